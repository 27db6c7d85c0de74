/** What both ConfDB engines share: lookups by key, single puts, schema migration. */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, rmSync } from 'node:fs';
import { once } from 'node:events';
import { ERR_CONFDB_CORRUPT, ERR_CONFDB_SCHEMA, ERR_NOT_FOUND, ERR_USAGE } from '../errors.js';
import type { ConfDB } from './store.js';
import type { BatchOp, Kind, RecordOf } from './kinds.js';
import { MIGRATIONS, SCHEMA_VERSION } from './schema.js';

/** Blobs are kept in chunks of this many bytes: memory stays bounded whatever the file's size. */
export const BLOB_CHUNK = 1 << 20;
export interface BlobMark {
  bytes: number;
  chunks: number;
}

export abstract class StoreBase {
  abstract readonly location: string;
  abstract get<K extends Kind>(kind: K, key: string): Promise<RecordOf[K] | undefined>;
  abstract batch(ops: BatchOp[]): Promise<void>;
  protected abstract readSchema(): Promise<number | undefined>;
  protected abstract writeSchema(v: number): Promise<void>;
  /** Blob primitives: chunk `seq` of a blob, and the mark (written last) that it is whole. */
  protected abstract putBlobChunk(digest: string, seq: number, data: Buffer): Promise<void>;
  protected abstract getBlobChunk(digest: string, seq: number): Promise<Buffer | undefined>;
  protected abstract putBlobMark(digest: string, mark: BlobMark): Promise<void>;
  protected abstract getBlobMark(digest: string): Promise<BlobMark | undefined>;

  async hasBlob(digest: string): Promise<boolean> {
    return (await this.getBlobMark(digest)) !== undefined;
  }

  /** Chunks first, the mark last: a blob cut short by a crash is simply written again. */
  async putBlob(digest: string, file: string): Promise<void> {
    if (await this.hasBlob(digest)) return;
    const h = createHash('sha256');
    let seq = 0;
    let bytes = 0;
    for await (const chunk of createReadStream(file, { highWaterMark: BLOB_CHUNK })) {
      h.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
      await this.putBlobChunk(digest, seq++, chunk as Buffer);
    }
    const got = h.digest('hex');
    if (got !== digest) throw ERR_USAGE(`${file}: its SHA-256 is ${got}, not ${digest} (changed while being stored?)`);
    await this.putBlobMark(digest, { bytes, chunks: seq });
  }

  async readBlob(digest: string, dest: string): Promise<boolean> {
    const mark = await this.getBlobMark(digest);
    if (!mark) return false;
    const out = createWriteStream(dest, { mode: 0o600 });
    const h = createHash('sha256');
    try {
      for (let seq = 0; seq < mark.chunks; seq++) {
        const data = await this.getBlobChunk(digest, seq);
        if (!data) throw new Error(`blob ${digest}: chunk ${seq} of ${mark.chunks} is missing`);
        h.update(data);
        if (!out.write(data)) await once(out, 'drain');
      }
      out.end();
      await once(out, 'finish');
      if (h.digest('hex') !== digest) throw new Error(`blob ${digest}: the stored bytes do not match their digest`);
    } catch (e) {
      out.destroy();
      rmSync(dest, { force: true });
      throw e;
    }
    return true;
  }

  async require<K extends Kind>(kind: K, key: string): Promise<RecordOf[K]> {
    const r = await this.get(kind, key);
    if (r === undefined) throw ERR_NOT_FOUND(`no ${kind.replace(/s$/, '')} with id ${key}`);
    return r;
  }

  async put<K extends Kind>(kind: K, value: RecordOf[K]): Promise<void> {
    await this.batch([{ kind, type: 'put', value } as BatchOp]);
  }

  async schemaVersion(): Promise<number> {
    return (await this.readSchema()) ?? SCHEMA_VERSION;
  }

  /** Bring the stored schema to SCHEMA_VERSION, one version per batch; refuse a newer one. */
  protected async migrate(): Promise<void> {
    const stored = await this.readSchema();
    if (stored === undefined) {
      await this.writeSchema(SCHEMA_VERSION);
      return;
    }
    // Versions start at 1 and only ever grow; anything else was not written by ssdtune.
    if (!Number.isInteger(stored) || stored < 1) throw ERR_CONFDB_CORRUPT(this.location, `schema version ${JSON.stringify(stored)} is not one ssdtune writes`);
    if (stored > SCHEMA_VERSION) throw ERR_CONFDB_SCHEMA(this.location, stored, SCHEMA_VERSION);
    for (let v = stored; v < SCHEMA_VERSION; v++) {
      const step = MIGRATIONS[v];
      if (!step) throw ERR_CONFDB_CORRUPT(this.location, `no migration from schema version ${v}`);
      await this.batch([...(await step(this as unknown as ConfDB))]);
      await this.writeSchema(v + 1);
    }
  }
}
