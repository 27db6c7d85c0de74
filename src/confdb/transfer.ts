/**
 * Export and import of a whole ConfDB as JSON lines, to move it between hosts.
 * Line 1 is a header; each further line is {"kind": K, "value": record}.
 * Import validates every line before writing anything, so a bad file leaves
 * the store as it was.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { ERR_CONFDB_IMPORT } from '../errors.js';
import { canonicalJson } from '../util/canonical-json.js';
import { ConfDB, KINDS, type BatchOp, type Kind } from './db.js';
import type { DeviceRecord, TraceRecord } from './records.js';
import { recordViolation } from './record-schemas.js';
import { describeHost, hostIdentity, type RecordingHost } from '../util/host-identity.js';
import { writeAtomically } from '../util/atomic-file.js';

export const EXPORT_MAGIC = 'ssdtune-confdb';
/** The last line's key: the counts of the records before it. A header with this key set to true promises it. */
export const EXPORT_END = 'ssdtune-confdb-end';

/** The export as a file that appears only once complete. */
export async function exportConfDB(db: ConfDB, file: string): Promise<Record<Kind, number>> {
  let counts: Record<Kind, number> | undefined;
  await writeAtomically(file, async (ws) => {
    counts = await exportConfDBTo(db, ws);
  });
  return counts!;
}

/**
 * The export as JSON lines on a stream (a file, an HTTP reply); ends the stream. The header says the file ends
 * with a line of its counts, so an import tells a complete export from one cut short at a line's end (a full
 * disk, a killed server, a dropped connection).
 */
export async function exportConfDBTo(db: ConfDB, out: Writable): Promise<Record<Kind, number>> {
  const counts = Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<Kind, number>;
  const write = async (line: string) => {
    // A stream that failed between writes emits no 'drain': its error is thrown here instead.
    if (out.errored) throw out.errored;
    if (!out.write(line + '\n')) await once(out, 'drain');
  };
  // exportedOn: an import on this host takes the export's device records that name no host (keepWayBack).
  await write(
    JSON.stringify({
      [EXPORT_MAGIC]: 1,
      schema: await db.schemaVersion(),
      exportedAt: new Date().toISOString(),
      exportedOn: hostIdentity(),
      [EXPORT_END]: true,
    }),
  );
  for (const kind of KINDS) {
    for await (const [, value] of db.entries(kind)) {
      await write(JSON.stringify({ kind, value }));
      counts[kind]++;
    }
  }
  await write(JSON.stringify({ [EXPORT_END]: counts }));
  if (out.errored) throw out.errored;
  out.end();
  await once(out, 'finish');
  return counts;
}

/**
 * A device's record here is its way back (the values it had before
 * ssdtune's first change): an import must not replace it with another (an
 * old export, another host's device of the same name), or revert would
 * restore values this device never had. The same record again is fine. Nor
 * may it bring in another host's record for a device with none here (the
 * next apply would keep its values as this device's); this host's own
 * records import. A record naming no host (an older ssdtune wrote it) may be
 * any machine's: it imports only from an export that says it was made on this
 * host (`exportedOn` in its header; a move between engines on one host), where
 * the applier then checks it against the device. From an export of another
 * host, or of an older ssdtune that named none, a later apply could adopt it
 * and a revert write another machine's values onto this one's disk.
 */
async function keepWayBack(db: ConfDB, rec: DeviceRecord, exportedOn: RecordingHost | undefined, file: string, lineNo: number): Promise<void> {
  const self = hostIdentity();
  if (rec.recordedOn === undefined && exportedOn?.id !== self.id) {
    const from = exportedOn
      ? `the export was made on another host, ${describeHost(exportedOn, self)} (this is ${describeHost(self, exportedOn)})`
      : 'the export does not say which host made it (an older ssdtune made it)';
    throw ERR_CONFDB_IMPORT(
      file,
      lineNo,
      `device ${rec.device}'s record names no host (an older ssdtune wrote it) and ${from}: it may be another machine's disk's way back, which a revert ` +
        `would write onto this one's: leave its record out of the file, or export again with this ssdtune on the host that recorded it and import that there`,
    );
  }
  if (rec.recordedOn !== undefined) {
    if (rec.recordedOn!.id !== self.id)
      throw ERR_CONFDB_IMPORT(
        file,
        lineNo,
        `device ${rec.device}'s record was made on another host, ${describeHost(rec.recordedOn!, self)} (this is ${describeHost(self, rec.recordedOn)}): ` +
          `its way back is that host's disk's, not this one's: leave its record out of the file (it belongs in that host's ConfDB)`,
      );
  }
  const here = await db.get('devices', rec.device);
  if (here && canonicalJson(here) !== canonicalJson(rec))
    throw ERR_CONFDB_IMPORT(
      file,
      lineNo,
      `device ${rec.device} has a recorded way back in this ConfDB that the file's record would replace: run \`ssdtune revert --device ${rec.device}\` first, or leave its record out of the file`,
    );
}

export interface ImportOptions {
  /**
   * Checks the file a trace record names, throwing when this importer may not read it: a server confines the traces
   * it reads to its own directories (service/traces.ts: confinedPath), and an imported record must not lead out.
   */
  tracePath?: (path: string, file: string, lineNo: number) => void;
}

export async function importConfDB(db: ConfDB, file: string, actor = 'cli'): Promise<Record<Kind, number>> {
  return importConfDBFrom(db, createReadStream(file), file, actor);
}

/** Import JSON lines from a stream; `file` names it in errors. */
export async function importConfDBFrom(db: ConfDB, input: Readable, file: string, actor = 'cli', o: ImportOptions = {}): Promise<Record<Kind, number>> {
  const ops: BatchOp[] = [];
  const counts = Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<Kind, number>;
  const rl = createInterface({ input, crlfDelay: Infinity });
  let lineNo = 0;
  // Exports written before the last line existed (and hand-made files) have none: their header does not promise it.
  let endPromised = false;
  let endLine = 0;
  let exportedOn: RecordingHost | undefined;
  try {
    for await (const line of rl) {
      lineNo++;
      if (line.trim() === '') continue;
      let obj: Record<string, unknown>;
      try {
        obj = JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw ERR_CONFDB_IMPORT(file, lineNo, 'expected a JSON object');
      }
      if (lineNo === 1) {
        if (obj[EXPORT_MAGIC] !== 1) throw ERR_CONFDB_IMPORT(file, 1, `expected the export header {"${EXPORT_MAGIC}":1,...}`);
        const schema = obj.schema as number;
        if (schema > (await db.schemaVersion())) throw ERR_CONFDB_IMPORT(file, 1, `schema ${schema} is newer than this ConfDB's`);
        endPromised = obj[EXPORT_END] === true;
        const on = obj.exportedOn as Partial<RecordingHost> | undefined;
        if (on !== undefined && !(typeof on === 'object' && on !== null && typeof on.id === 'string' && on.id !== '' && typeof on.name === 'string'))
          throw ERR_CONFDB_IMPORT(file, 1, 'expected "exportedOn" to be the exporting host, {"id": ..., "name": ...}');
        exportedOn = on as RecordingHost | undefined;
        continue;
      }
      if (endLine) throw ERR_CONFDB_IMPORT(file, lineNo, `expected nothing after the export's last line (line ${endLine})`);
      if (EXPORT_END in obj) {
        if (canonicalJson(obj[EXPORT_END]) !== canonicalJson(counts))
          throw ERR_CONFDB_IMPORT(
            file,
            lineNo,
            `the export's last line counts ${canonicalJson(obj[EXPORT_END])}, but the lines before it hold ${canonicalJson(counts)}`,
          );
        endLine = lineNo;
        continue;
      }
      const kind = obj.kind as Kind;
      if (!KINDS.includes(kind)) throw ERR_CONFDB_IMPORT(file, lineNo, `expected "kind" to be one of ${KINDS.join(', ')}`);
      const value = obj.value as Record<string, unknown> | null;
      if (typeof value !== 'object' || value === null) throw ERR_CONFDB_IMPORT(file, lineNo, 'expected "value" to be an object');
      const wrong = recordViolation(kind, value);
      if (wrong) throw ERR_CONFDB_IMPORT(file, lineNo, wrong);
      if (kind === 'traces') o.tracePath?.((value as unknown as TraceRecord).path, file, lineNo);
      if (kind === 'devices') await keepWayBack(db, value as unknown as DeviceRecord, exportedOn, file, lineNo);
      ops.push({ kind, type: 'put', value } as unknown as BatchOp);
      counts[kind]++;
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw ERR_CONFDB_IMPORT(file, 0, 'no such file');
    throw e;
  }
  if (lineNo === 0) throw ERR_CONFDB_IMPORT(file, 0, 'the file is empty');
  if (endPromised && !endLine)
    throw ERR_CONFDB_IMPORT(file, lineNo, `the file ends without the export's last line ({"${EXPORT_END}": counts}): the export was cut short; export again`);
  ops.push(ConfDB.audit(actor, 'db.import', { file, counts }));
  await db.batch(ops);
  return counts;
}
