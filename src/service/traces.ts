/**
 * Traces known to the service: uploads are streamed to `<dataDir>/traces/`
 * with a size limit (never buffered whole); local files can be registered in
 * place. The format is sniffed so a bad upload is reported at once.
 */
import { createWriteStream, mkdirSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { ConfDB } from '../confdb/db.js';
import { newId } from '../confdb/ids.js';
import type { TraceRecord } from '../confdb/records.js';
import { ERR_UPLOAD_TOO_LARGE } from '../errors.js';
import { sniffFormat } from '../readers/registry.js';
import { sha256File } from '../util/digest.js';
import type { Service } from './context.js';

const SAFE_NAME = /[^A-Za-z0-9._-]/g;

export async function storeUpload(svc: Service, body: Readable, name: string, actor: string): Promise<TraceRecord> {
  const limit = svc.settings.maxUploadBytes;
  const dir = path.join(svc.settings.dataDir, 'traces');
  mkdirSync(dir, { recursive: true });
  const id = newId();
  const safe = (name || 'trace').replace(SAFE_NAME, '_').slice(0, 100);
  const file = path.join(dir, `${id}-${safe}`);
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      if (bytes > limit) cb(ERR_UPLOAD_TOO_LARGE(limit));
      else cb(null, chunk);
    },
  });
  try {
    await pipeline(body, counter, createWriteStream(file, { mode: 0o600 }));
    const format = (await sniffFormat(file)).name;
    const rec: TraceRecord = { id, name: safe, path: file, bytes, format, uploadedAt: new Date().toISOString(), by: actor };
    await svc.db.batch([{ kind: 'traces', type: 'put', value: rec }, ConfDB.audit(actor, 'traces.upload', { id, name: safe, bytes, format })]);
    return rec;
  } catch (e) {
    await fsp.rm(file, { force: true });
    throw e;
  }
}

/** Register a trace file that is already on this host (the CLI's path) without copying it. */
export async function registerLocalTrace(svc: Service, file: string, actor: string): Promise<TraceRecord> {
  const abs = path.resolve(file);
  const fmt = await sniffFormat(abs);
  const st = await fsp.stat(abs);
  const existing = await svc.db.traceAt(abs, st.size);
  if (existing) return existing;
  const rec: TraceRecord = { id: newId(), name: path.basename(abs), path: abs, bytes: st.size, format: fmt.name, uploadedAt: new Date().toISOString(), by: actor };
  await svc.db.batch([{ kind: 'traces', type: 'put', value: rec }, ConfDB.audit(actor, 'traces.register', { id: rec.id, path: abs })]);
  return rec;
}

/**
 * Fleet mode: keep a trace's bytes in the ConfDB under its SHA-256, so a
 * worker on any host can fetch it (once, into its bounded cache).
 */
export async function keepTraceBytes(svc: Service, trace: TraceRecord): Promise<TraceRecord> {
  const sha256 = trace.sha256 ?? (await sha256File(trace.path));
  await svc.db.putBlob(sha256, trace.path);
  if (trace.sha256) return trace;
  const rec = { ...trace, sha256 };
  await svc.db.put('traces', rec);
  return rec;
}
