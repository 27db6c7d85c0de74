/** What both ConfDB engines share: lookups by key, single puts, schema migration. */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, rmSync } from 'node:fs';
import { once } from 'node:events';
import { ERR_CONFDB_CORRUPT, ERR_CONFDB_SCHEMA, ERR_NOT_FOUND, ERR_USAGE } from '../errors.js';
import type { ConfDB } from './store.js';
import type { BatchOp, Kind, RecordOf } from './kinds.js';
import { MIGRATIONS, SCHEMA_VERSION } from './schema.js';
import type { TraceRecord } from './records.js';

/** The named lock (ConfDB.exclusive) under which a blob's records are written and the blob deleted. */
const blobLock = (digest: string) => `blob:${digest}`;

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
  /** Chunks stored for the blob (a whole one has its mark's count). */
  protected abstract countBlobChunks(digest: string): Promise<number>;
  /** Delete the blob's mark and chunks, atomically (one LevelDB batch; in PostgreSQL, in the lock's transaction). */
  protected abstract deleteBlobParts(digest: string): Promise<void>;
  abstract traceWithDigest(digest: string): Promise<TraceRecord | undefined>;
  abstract exclusive<T>(lock: string, fn: (db: ConfDB) => Promise<T>): Promise<T>;

  async hasBlob(digest: string): Promise<boolean> {
    return (await this.getBlobMark(digest)) !== undefined;
  }

  /** Chunks first, the mark last: a blob cut short by a crash is simply written again. */
  async putBlob(digest: string, file: string): Promise<void> {
    if (await this.hasBlob(digest)) return;
    await this.writeBlob(digest, file);
  }

  /** Its mark and every chunk the mark counts (chunks written outside the lock may have been deleted under it). */
  private async blobWhole(digest: string): Promise<boolean> {
    const mark = await this.getBlobMark(digest);
    return mark !== undefined && (await this.countBlobChunks(digest)) === mark.chunks;
  }

  async keepBlob(digest: string, file: string, write: (db: ConfDB) => Promise<void>): Promise<void> {
    await this.putBlob(digest, file);
    await this.exclusive(blobLock(digest), async (db) => {
      const tx = db as unknown as StoreBase;
      if (!(await tx.blobWhole(digest))) {
        await tx.deleteBlobParts(digest);
        await tx.writeBlob(digest, file);
      }
      await write(db);
    });
  }

  async releaseBlob(digest: string, forget: (db: ConfDB) => Promise<void>): Promise<boolean> {
    return this.exclusive(blobLock(digest), async (db) => {
      await forget(db);
      if (await db.traceWithDigest(digest)) return false;
      await (db as unknown as StoreBase).deleteBlobParts(digest);
      return true;
    });
  }

  private async writeBlob(digest: string, file: string): Promise<void> {
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
