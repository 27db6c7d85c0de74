/**
 * List pages kept as serialised JSON until their kind is written again:
 * reads vastly outnumber writes here (dashboards, pollers), and a LevelDB
 * scan plus serialisation per request would cap throughput.
 *
 * Bounded in entries and in bytes: anyone may read without a token on
 * loopback, and 256 pages of 10,000 records once pinned 800 MB. A page larger
 * than a fraction of the budget is served without being kept.
 */
export const PAGE_CACHE_MAX = 256;
export const PAGE_CACHE_MAX_BYTES = 32 << 20;
export const PAGE_MAX_BYTES = 2 << 20;

export class PageCache {
  private readonly pages = new Map<string, { gen: number; body: string }>();
  private held = 0;

  /** Bytes held (the ssdtune_page_cache_bytes gauge on /metrics). */
  get bytes(): number {
    return this.held;
  }

  /** The page under `key` built at generation `gen`, or undefined when absent or stale. */
  get(key: string, gen: number): string | undefined {
    const p = this.pages.get(key);
    return p && p.gen === gen ? p.body : undefined;
  }

  set(key: string, gen: number, body: string): void {
    this.evict(key);
    if (body.length > PAGE_MAX_BYTES) return;
    // Oldest first, until both bounds hold with the new page in.
    while (this.pages.size && (this.pages.size >= PAGE_CACHE_MAX || this.held + body.length > PAGE_CACHE_MAX_BYTES))
      this.evict(this.pages.keys().next().value!);
    this.pages.set(key, { gen, body });
    this.held += body.length;
  }

  private evict(key: string): void {
    const p = this.pages.get(key);
    if (!p) return;
    this.held -= p.body.length;
    this.pages.delete(key);
  }
}
