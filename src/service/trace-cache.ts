/**
 * A worker's local copies of traces, by content digest: fetched once from the
 * ConfDB's blobs (kept there when the job was submitted) into
 * `<dataDir>/trace-cache/<sha256>`, and kept within a byte budget by evicting
 * the least recently used copies that no evaluation is reading.
 */
import { mkdirSync, promises as fsp, readdirSync, renameSync, rmSync, statSync, utimesSync } from 'node:fs';
import path from 'node:path';
import type { ConfDB } from '../confdb/db.js';
import { ERR_NOT_FOUND, ERR_USAGE } from '../errors.js';
import { SHA256_RE } from '../util/digest.js';

export const DEFAULT_TRACE_CACHE_BYTES = 4 * 1024 ** 3;

export class TraceCache {
  private readonly fetching = new Map<string, Promise<string>>();
  /** Digests being read now, with how many readers: never evicted. */
  private readonly inUse = new Map<string, number>();
  /** Fetches from the store (tests and the bench count them). */
  fetches = 0;

  constructor(
    private readonly db: ConfDB,
    readonly dir: string,
    readonly maxBytes = DEFAULT_TRACE_CACHE_BYTES,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  /**
   * Run `fn` with a local path holding the trace of this digest, fetched if
   * needed; the copy is not evicted while `fn` runs.
   */
  async with<T>(digest: string, fn: (file: string) => Promise<T>): Promise<T> {
    if (!SHA256_RE.test(digest)) throw ERR_USAGE(`trace digest "${digest}": expected 64 hex digits`);
    this.inUse.set(digest, (this.inUse.get(digest) ?? 0) + 1);
    try {
      return await fn(await this.local(digest));
    } finally {
      const n = this.inUse.get(digest)! - 1;
      if (n === 0) this.inUse.delete(digest);
      else this.inUse.set(digest, n);
    }
  }

  private local(digest: string): Promise<string> {
    const file = path.join(this.dir, digest);
    try {
      statSync(file);
      const now = new Date();
      utimesSync(file, now, now);
      return Promise.resolve(file);
    } catch {
      /* not cached */
    }
    let p = this.fetching.get(digest);
    if (!p) {
      p = this.fetch(digest, file).finally(() => this.fetching.delete(digest));
      this.fetching.set(digest, p);
    }
    return p;
  }

  private async fetch(digest: string, file: string): Promise<string> {
    const part = `${file}.${process.pid}.part`;
    this.fetches++;
    // readBlob checks the digest of what it wrote; only a whole, verified copy is renamed into place.
    if (!(await this.db.readBlob(digest, part))) throw ERR_NOT_FOUND(`no trace with SHA-256 ${digest} in the ConfDB (${this.db.location})`);
    renameSync(part, file);
    await this.evict();
    return file;
  }

  /** Oldest first, skipping copies in use, until the cache fits its budget. */
  private async evict(): Promise<void> {
    const entries = readdirSync(this.dir)
      .filter((n) => SHA256_RE.test(n))
      .map((n) => {
        const st = statSync(path.join(this.dir, n));
        return { n, bytes: st.size, at: st.mtimeMs };
      })
      .sort((a, b) => a.at - b.at);
    let total = entries.reduce((s, e) => s + e.bytes, 0);
    for (const e of entries) {
      if (total <= this.maxBytes) break;
      if (this.inUse.has(e.n) || this.fetching.has(e.n)) continue;
      rmSync(path.join(this.dir, e.n), { force: true });
      total -= e.bytes;
    }
  }

  /** Bytes held now (tests). */
  async bytes(): Promise<number> {
    let total = 0;
    for (const n of readdirSync(this.dir)) if (SHA256_RE.test(n)) total += (await fsp.stat(path.join(this.dir, n))).size;
    return total;
  }
}
