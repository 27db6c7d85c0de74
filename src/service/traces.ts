/**
 * Traces known to the service: uploads are streamed to `<dataDir>/traces/`
 * with a size limit (never buffered whole) under a temporary name, renamed
 * once complete, so a kill mid-upload leaves only debris that the next start
 * removes (cleanUploadDebris); local files can be registered in place. The
 * format is sniffed so a bad upload is reported at once.
 *
 * Registering by path over the API is confined to the upload directory and
 * the configured `traceDirs`: anything else gets one refusal, whether or not
 * it exists, and no error quotes a byte of the file.
 */
import { createWriteStream, mkdirSync, promises as fsp, readdirSync, realpathSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ConfDB } from '../confdb/db.js';
import { newId } from '../confdb/ids.js';
import type { TraceRecord } from '../confdb/records.js';
import { ERR_CONFLICT, ERR_PERMISSION, errorFromCode, isSsdtuneError } from '../errors.js';
import { checkReadableFile } from '../readers/input.js';
import { formatByName, openTrace, sniffFormat } from '../readers/registry.js';
import { capped } from '../util/byte-cap.js';
import { sha256File } from '../util/digest.js';
import { SpaceGuard } from '../util/disk-space.js';
import type { Service } from './context.js';
import { ACTIVE_JOB_STATES } from './queue.js';

const SAFE_NAME = /[^A-Za-z0-9._-]/g;
/** Uploads in progress are written under this prefix (never a stored trace's name: ids do not start with a dot). */
const PARTIAL = '.partial-';

export function uploadDir(dataDir: string): string {
  return path.join(dataDir, 'traces');
}

/**
 * Where the server keeps the trace it stored as record `id` (an upload, a fleet capture): `<upload dir>/<id>-<name>`.
 * `name` is the record's name, made safe by storeUpload. deleteTrace removes a record's file only when it is this.
 */
export function storedTracePath(dataDir: string, id: string, name: string): string {
  return path.join(uploadDir(dataDir), `${id}-${name}`);
}

/** Remove what uploads cut off by a crash left (the server calls it at start, before it accepts any). */
export function cleanUploadDebris(dataDir: string): string[] {
  const dir = uploadDir(dataDir);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const debris = names.filter((n) => n.startsWith(PARTIAL));
  for (const n of debris) rmSync(path.join(dir, n), { force: true });
  return debris;
}

/** How a trace is registered or uploaded. */
export interface TraceOptions {
  /**
   * The trace's format, instead of sniffing it: the sniffer refuses to guess
   * between formats that read the same columns in different units (a
   * Heimdall MSR cut and MSNFS), and its error asks for this.
   */
  format?: string;
}

/** The format named, checked (SSDTUNE_USAGE naming the known ones), before anything is read or written. */
function forcedFormat(o: TraceOptions): string | undefined {
  return o.format === undefined ? undefined : formatByName(o.format).name;
}

/**
 * The trace's format: the one forced, once its first records read in it (the sniffer is not asked, and nothing
 * else would notice a wrong one before a tune read the file), or the sniffer's answer.
 */
async function traceFormat(file: string, forced: string | undefined, quoteInput: boolean): Promise<string> {
  if (forced === undefined) return (await sniffFormat(file, { quoteInput })).name;
  // A FIFO can be read once: its reader is the tune's.
  if ((await checkReadableFile(file)).kind === 'stream') return forced;
  const batches = (await openTrace(file, { format: forced, quoteInput, batchSize: 1024 }))[Symbol.asyncIterator]();
  try {
    await batches.next();
  } finally {
    await batches.return?.();
  }
  return forced;
}

/**
 * Store an upload. `maxBytes` (default maxUploadBytes, a remote caller's bound) is stdinMaxBytes for the CLI's own
 * standard input, which its sender bounds (cli/standard-input.ts). Errors name the upload by `name`, not by the
 * server's file.
 */
export async function storeUpload(
  svc: Service,
  body: Readable,
  name: string,
  actor: string,
  o: TraceOptions & { maxBytes?: number } = {},
): Promise<TraceRecord> {
  const forced = forcedFormat(o);
  const limit = o.maxBytes ?? svc.settings.maxUploadBytes;
  const dir = uploadDir(svc.settings.dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const id = newId();
  const safe = (name || 'trace').replace(SAFE_NAME, '_').slice(0, 100);
  const file = storedTracePath(svc.settings.dataDir, id, safe);
  const partial = path.join(dir, `${PARTIAL}${path.basename(file)}`);
  let guard: SpaceGuard;
  try {
    guard = new SpaceGuard(dir, svc.settings.minFreeBytes, 'upload');
  } catch (e) {
    body.resume(); // read to its end, so that the refusal is answered (byte-cap.ts)
    throw e;
  }
  try {
    const counter = capped(body, limit);
    await pipeline(counter, guard, createWriteStream(partial, { mode: 0o600 }));
    await fsp.rename(partial, file);
    const format = await traceFormat(file, forced, true);
    const bytes = counter.bytes;
    const rec: TraceRecord = { id, name: safe, path: file, bytes, format, uploadedAt: new Date().toISOString(), by: actor };
    await svc.db.batch([{ kind: 'traces', type: 'put', value: rec }, ConfDB.audit(actor, 'traces.upload', { id, name: safe, bytes, format })]);
    return rec;
  } catch (e) {
    await fsp.rm(partial, { force: true });
    await fsp.rm(file, { force: true });
    if (!isSsdtuneError(e) || !(e.message.includes(file) || e.message.includes(partial))) throw e;
    throw errorFromCode(e.code, e.message.replaceAll(file, name).replaceAll(partial, name), e.statusCode, e.field);
  }
}

/**
 * The real path of `file` when it lies under the upload directory or one of
 * `traceDirs` (symbolic links resolved, so none leads out); otherwise one
 * refusal that says the same for a file that exists and one that does not.
 */
export function confinedPath(settings: { dataDir: string; traceDirs: string[] }, file: string): string {
  const roots = [uploadDir(settings.dataDir), ...settings.traceDirs].map((d) => {
    try {
      return realpathSync(d);
    } catch {
      return path.resolve(d);
    }
  });
  let real: string;
  try {
    real = realpathSync(path.resolve(file));
  } catch {
    real = path.resolve(file);
  }
  if (roots.some((r) => real === r || real.startsWith(r.endsWith(path.sep) ? r : r + path.sep))) return real;
  throw ERR_PERMISSION(
    `${file}: the server registers traces only under its upload directory${settings.traceDirs.length ? ' and traceDirs' : ''} (set "traceDirs" in config.json to allow more); upload the file instead (POST /v1/traces)`,
  );
}

/**
 * Register a trace file that is already on this host without copying it: the
 * CLI's own path, or (`confine`, for requests from the API) a path under the
 * directories the server may read.
 */
export async function registerLocalTrace(svc: Service, file: string, actor: string, o: TraceOptions & { confine?: boolean } = {}): Promise<TraceRecord> {
  const forced = forcedFormat(o);
  const abs = o.confine ? confinedPath(svc.settings, file) : path.resolve(file);
  // The sniffer quotes what it could not read: fine for the CLI's own file, never for a remote caller.
  const format = await traceFormat(abs, forced, !o.confine);
  const st = await fsp.stat(abs);
  const existing = await svc.db.traceAt(abs, st.size);
  // The same file registered with another format is another trace record (it reads as other requests).
  if (existing && existing.format === format) return existing;
  const rec: TraceRecord = {
    id: newId(),
    name: path.basename(abs),
    path: abs,
    bytes: st.size,
    format,
    uploadedAt: new Date().toISOString(),
    by: actor,
  };
  await svc.db.batch([{ kind: 'traces', type: 'put', value: rec }, ConfDB.audit(actor, 'traces.register', { id: rec.id, path: abs })]);
  return rec;
}

/**
 * Fleet mode: keep a trace's bytes in the ConfDB under its SHA-256, so a
 * worker on any host can fetch it (once, into its bounded cache).
 */
export async function keepTraceBytes(svc: Service, trace: TraceRecord): Promise<TraceRecord> {
  const sha256 = trace.sha256 ?? (await sha256File(trace.path));
  const rec = { ...trace, sha256 };
  // The record names the blob under the blob's lock, with the blob whole (ConfDB.keepBlob): the deletion of the last
  // other record of these bytes cannot take the blob from under it. A record deleted meanwhile is not written back.
  await svc.db.keepBlob(sha256, trace.path, async (db) => {
    const now = await db.require('traces', trace.id);
    if (now.sha256 !== sha256) await db.put('traces', { ...now, sha256 });
  });
  return rec;
}

/**
 * Forget a trace: its record, and its file when the server stored it (an upload or a fleet capture under the
 * upload directory; a file registered by path is the user's, and stays). Uploads are the one thing the API lets a
 * caller add without bound but the disk (util/disk-space.ts); this is how room is made. A trace a queued or running
 * job reads is refused (SSDTUNE_CONFLICT): the job would fail on the missing file. A job submitted while the
 * deletion runs fails the same way, coded (no trace with that id). Workloads and configurations learned from it stay:
 * they hold what was learned, not the trace. Fleet mode's copy of its bytes in the ConfDB (keepTraceBytes) goes with
 * the last record naming them (ConfDB.releaseBlob).
 */
export async function deleteTrace(svc: Service, id: string, actor: string): Promise<TraceRecord> {
  const rec = await svc.db.require('traces', id);
  const readers = (await svc.db.jobsWithStatus(ACTIVE_JOB_STATES)).filter((j) => j.params.traceId === id);
  if (readers.length) throw ERR_CONFLICT(`trace ${id} is read by ${readers[0]!.status} job ${readers[0]!.id}: cancel it or let it finish first`);
  const forget = (db: ConfDB) =>
    db.batch([{ kind: 'traces', type: 'del', key: id }, ConfDB.audit(actor, 'traces.delete', { id, name: rec.name, path: rec.path })]);
  // Fleet mode kept its bytes as a blob, which other records of the same bytes may name: it goes with the last.
  if (rec.sha256) await svc.db.releaseBlob(rec.sha256, forget);
  else await forget(svc.db);
  // What storeUpload wrote. Anything else was registered by path, and is the user's.
  if (rec.path === storedTracePath(svc.settings.dataDir, rec.id, rec.name)) await fsp.rm(rec.path, { force: true });
  return rec;
}
