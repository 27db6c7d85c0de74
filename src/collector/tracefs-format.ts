/**
 * Parsers for tracefs's self-description: an event's `format` file (ID and
 * field offsets) and `events/header_page` (ring-buffer page layout). The raw
 * per-CPU buffers are decoded from these, never from offsets assumed here.
 */
import { ERR_TRACE_FORMAT } from '../errors.js';

export interface FieldSpec {
  offset: number;
  size: number;
  signed: boolean;
}

export interface EventFormat {
  name: string;
  id: number;
  fields: Map<string, FieldSpec>;
}

const FIELD_RE = /^\s*field:\s*(.+?);\s*offset:(\d+);\s*size:(\d+);\s*signed:(\d+);/;

/** The name of a declared field: `char rwbs[10]` -> rwbs, `__data_loc char[] cmd` -> cmd. */
function fieldName(decl: string): string {
  const m = /([A-Za-z_][A-Za-z0-9_]*)\s*(\[[^\]]*\])?\s*$/.exec(decl.trim());
  return m ? m[1]! : decl.trim();
}

export function parseEventFormat(text: string, file: string): EventFormat {
  const name = /^name:\s*(\S+)/m.exec(text)?.[1];
  const id = /^ID:\s*(\d+)/m.exec(text)?.[1];
  if (!name || !id) throw ERR_TRACE_FORMAT(file, 'header', 'expected "name:" and "ID:" lines of a tracefs event format');
  const fields = new Map<string, FieldSpec>();
  text.split('\n').forEach((line, i) => {
    if (!line.includes('field:')) return;
    const m = FIELD_RE.exec(line);
    if (!m) throw ERR_TRACE_FORMAT(file, `line ${i + 1}`, 'expected "field:<decl>; offset:N; size:N; signed:N;"');
    fields.set(fieldName(m[1]!), { offset: Number(m[2]), size: Number(m[3]), signed: m[4] === '1' });
  });
  return { name, id: Number(id), fields };
}

/** A field the decoder needs; a clear error names the event and field when the kernel lacks it. */
export function requireField(ev: EventFormat, name: string, file: string): FieldSpec {
  const f = ev.fields.get(name);
  if (!f) throw ERR_TRACE_FORMAT(file, `field ${name}`, `event ${ev.name} has no field "${name}" (have ${[...ev.fields.keys()].join(', ')})`);
  return f;
}

export interface PageLayout {
  timestampOffset: number;
  commitOffset: number;
  commitSize: number;
  dataOffset: number;
  /** Data bytes of a default page (header_page's `data` size). */
  dataSize: number;
}

export function parseHeaderPage(text: string, file: string): PageLayout {
  const get = (name: string): FieldSpec => {
    const m = new RegExp(`field:\\s*[^;]*\\b${name}\\b[^;]*;\\s*offset:(\\d+);\\s*size:(\\d+);`).exec(text);
    if (!m) throw ERR_TRACE_FORMAT(file, `field ${name}`, 'expected the ring-buffer page header description');
    return { offset: Number(m[1]), size: Number(m[2]), signed: false };
  };
  const ts = get('timestamp');
  const commit = get('commit');
  const data = get('data');
  return { timestampOffset: ts.offset, commitOffset: commit.offset, commitSize: commit.size, dataOffset: data.offset, dataSize: data.size };
}
