/**
 * docs/errors.md, generated from the error registry (src/errors.ts): the
 * exit codes the CLI documents, and every coded error with its exit code,
 * HTTP status and message, under the subsystem heading it is defined in and
 * with the comment that names its arguments. `npm run docs` writes it;
 * test/docs.test.ts fails when the file is stale.
 */
import { errorDefinitions, EXIT, EXIT_MEANING, type ErrorDef } from '../errors.js';

interface SourceInfo {
  /** `// ---- <section> ----` heading above the definition */
  section: string;
  /** the doc comment right above it, when there is one */
  doc: string;
}

/** Section and doc comment of every defineError call in errors.ts's source text. */
export function readErrorSource(source: string): Map<string, SourceInfo> {
  const out = new Map<string, SourceInfo>();
  let section = 'general';
  let doc = '';
  const lines = source.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    const head = /^\/\/ -+ (.+?) -*$/.exec(line);
    if (head) {
      section = head[1]!;
      doc = '';
      continue;
    }
    if (line.startsWith('/**')) {
      let text = line;
      while (!text.includes('*/') && i + 1 < lines.length) text += ' ' + lines[++i]!.trim();
      doc = text
        .replace(/^\/\*\*|\*\/$/g, '')
        .replace(/\s\*\s/g, ' ')
        .trim();
      continue;
    }
    const def = /defineError\(\s*'([A-Z0-9_]+)'/.exec(line) ?? (/defineError\($/.test(line) ? /^'([A-Z0-9_]+)'/.exec(lines[i + 1]?.trim() ?? '') : null);
    if (def) {
      out.set(def[1]!, { section, doc });
      doc = '';
    } else if (line && !line.startsWith('//')) doc = ''; // a comment belongs to the statement right below it
  }
  return out;
}

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function renderErrorsMd(source: string): string {
  const info = readErrorSource(source);
  const exitName = new Map<number, string>(Object.entries(EXIT).map(([k, v]) => [v, k]));
  const out: string[] = [
    '# Errors and exit codes',
    '',
    '<!-- Generated from src/errors.ts by `npm run docs`; test/docs.test.ts checks it is current. Do not edit. -->',
    '',
    'Every error ssdtune raises on purpose carries a code (`err.code`, the `code` field of a REST error body)',
    'from this registry; the CLI exits with its exit code and the REST API answers with its HTTP status.',
    '`%s` in a message stands for a detail filled in at run time (the arguments are listed under it).',
    '',
    '## Exit codes',
    '',
    '| exit | name | meaning |',
    '|---:|---|---|',
    ...Object.entries(EXIT).map(([name, code]) => `| ${code} | ${name} | ${cell(EXIT_MEANING[name as keyof typeof EXIT])} |`),
    '',
    '## Error codes',
  ];
  const bySection = new Map<string, ErrorDef[]>();
  for (const d of errorDefinitions()) {
    const s = info.get(d.code)?.section ?? 'other';
    bySection.set(s, [...(bySection.get(s) ?? []), d]);
  }
  for (const [section, defs] of bySection) {
    out.push('', `### ${section}`, '', '| code | exit | HTTP | message |', '|---|---:|---:|---|');
    for (const d of defs) {
      const doc = info.get(d.code)?.doc;
      const message = '`' + cell(d.template) + '`' + (doc ? `<br>arguments: ${cell(doc)}` : '');
      out.push(`| \`${d.code}\` | ${d.exitCode} (${exitName.get(d.exitCode) ?? '?'}) | ${d.status} | ${message} |`);
    }
  }
  return out.join('\n') + '\n';
}
