/**
 * The `readahead-model` evaluator (docs/tuning.md): a bounded LRU page
 * cache plus Linux's on-demand readahead (mm/readahead.c, filemap_read),
 * replayed over a trace's reads. Predicts cache hits, device requests, bytes
 * read and wasted prefetch for a read_ahead_kb, and a time from a simple
 * device cost model (per request + per byte; async readahead overlaps with the
 * application), which can be calibrated on the
 * real device (calibrateDevice in live-evaluator.ts).
 *
 * Rules modelled, as in the kernel (page = 4 KiB, request = [index, last)):
 * - filemap_read: for each run of the request, a missing page triggers
 *   page_cache_sync_ra(index, last-index); a present batch (<= 31 pages) whose
 *   last page carries PG_readahead triggers page_cache_async_ra.
 * - sync_ra: ra_pages 0 -> read one page. Start of file, oversized read or
 *   sequential (index - prev_index <= 1) -> new window: size =
 *   get_init_ra_size(req, max), async = size - req (or size/2). Else context
 *   readahead: count cached pages just before index; if <= req, read only the
 *   request; else window = min(contig + req, max) (x2 when cached from page
 *   0), async 1.
 * - async_ra at the expected marker: start += size, size =
 *   get_next_ra_size(size, max), async = size; elsewhere: restart from the
 *   next missing page.
 * - get_init_ra_size: roundup_pow_of_two(req), x4 if <= max/32, x2 if <=
 *   max/4, else max. get_next_ra_size: x4 if < max/16, x2 if <= max/2, else max.
 * - A window reads only its missing pages; each contiguous run is one
 *   submission split at max_sectors_kb; the marker goes on page
 *   start + size - async when that page was newly read.
 * - max window = read_ahead_kb, or up to max_sectors_kb when the request
 *   itself is larger (ractl_max_pages).
 */
import type { EvaluateOptions, Evaluator, Metrics, WorkloadRef } from '../types.js';
import type { Configuration } from '../../space/types.js';
import { Op, concatBatches, type TraceBatch } from '../../trace/model.js';
import { planReplay } from '../live/replay-plan.js';

export const PAGE = 4096;
const BATCH_PAGES = 31;

/** Device cost model: what a request and a byte cost, what the application pays per request. */
export interface DeviceCost {
  /** Fixed cost of one device request (us). */
  requestUs: number;
  /** Sequential bandwidth (bytes/s). */
  bytesPerSec: number;
  /** Per application request (syscall, copy setup) (us). */
  appRequestUs: number;
  /**
   * Requests the device serves at once when they are submitted together (the
   * pieces of one readahead window split at max_sectors_kb); default 1. With
   * 1, a window split into 20 requests costs 20 request times and a larger
   * read_ahead_kb never pays off on a device with a small max_sectors_kb,
   * although live replay measures 1.6x on such a loop device.
   */
  parallelism?: number;
}

/** Rough NVMe-class figures; calibrate on the real device for rankings that matter. */
export const DEFAULT_COST: DeviceCost = { requestUs: 40, bytesPerSec: 2e9, appRequestUs: 2 };

export interface ReadaheadModelOptions {
  /** Page cache capacity (bytes); default 1 GiB. */
  cacheBytes?: number;
  /** Used when the configuration has no max_sectors_kb. */
  maxSectorsKb?: number;
  /** Used when the configuration has no read_ahead_kb (kernel default 128). */
  readAheadKb?: number;
  /** Wrap offsets into a device of this size (as the live evaluator does). */
  deviceBytes?: number;
  cost?: DeviceCost;
}

export interface ReadaheadStats {
  appRequests: number;
  appBytes: number;
  /** Pages found in the cache when the application asked for them. */
  hitPages: number;
  missPages: number;
  deviceRequests: number;
  deviceBytes: number;
  /** Pages read ahead and evicted or never used by the end. */
  wastedPages: number;
  /** Device requests issued by async readahead (overlap with the application). */
  asyncDeviceRequests: number;
  asyncDeviceBytes: number;
  /** Rounds of requests the device serves one after another: a submission of n requests takes ceil(n / parallelism). */
  deviceRounds: number;
  asyncDeviceRounds: number;
  /** Predicted elapsed time (s) from the cost model. */
  seconds: number;
}

// Page flags stored in the LRU map.
const F_MARKER = 1; // PG_readahead
const F_UNUSED = 2; // read ahead, not yet accessed

class Sim {
  private readonly lru = new Map<number, number>();
  private ra = { start: 0, size: 0, async: 0 };
  private prevPos = -1;
  readonly s: ReadaheadStats = { appRequests: 0, appBytes: 0, hitPages: 0, missPages: 0, deviceRequests: 0, deviceBytes: 0, wastedPages: 0, asyncDeviceRequests: 0, asyncDeviceBytes: 0, deviceRounds: 0, asyncDeviceRounds: 0, seconds: 0 };
  private inAsync = false;

  constructor(
    private readonly raPages: number,
    private readonly ioPages: number,
    private readonly capacity: number,
    private readonly endPage: number,
    private readonly parallelism: number,
  ) {}

  private has(p: number): boolean {
    return this.lru.has(p);
  }

  /** Access by the application: LRU touch, clear "unused". */
  private touch(p: number): number {
    const f = this.lru.get(p)!;
    this.lru.delete(p);
    this.lru.set(p, f & ~F_UNUSED);
    return f;
  }

  private insert(p: number, flags: number): void {
    this.lru.set(p, flags);
    if (this.lru.size > this.capacity) {
      const [old, f] = this.lru.entries().next().value as [number, number];
      this.lru.delete(old);
      if (f & F_UNUSED) this.s.wastedPages++;
    }
  }

  /** One submission of contiguous new pages: split at max_sectors_kb. */
  private submit(pages: number): void {
    const reqs = Math.ceil(pages / this.ioPages);
    const rounds = Math.ceil(reqs / this.parallelism);
    this.s.deviceRequests += reqs;
    this.s.deviceBytes += pages * PAGE;
    this.s.deviceRounds += rounds;
    if (this.inAsync) {
      this.s.asyncDeviceRequests += reqs;
      this.s.asyncDeviceBytes += pages * PAGE;
      this.s.asyncDeviceRounds += rounds;
    }
  }

  /** do_page_cache_ra / page_cache_ra_unbounded: read missing pages of [index, index+nr), marker at nr-lookahead. */
  private readWindow(index: number, nr: number, lookahead: number, demand: number): void {
    nr = Math.min(nr, this.endPage - index);
    if (nr <= 0) return;
    const mark = lookahead > 0 ? index + nr - lookahead : -1;
    let run = 0;
    for (let p = index; p < index + nr; p++) {
      if (this.has(p)) {
        if (run) this.submit(run);
        run = 0;
        continue;
      }
      // Pages beyond what the application asked for count as prefetch.
      this.insert(p, (p === mark ? F_MARKER : 0) | (p >= demand ? F_UNUSED : 0));
      run++;
    }
    if (run) this.submit(run);
  }

  private maxPages(req: number): number {
    return req > this.raPages && this.ioPages > this.raPages ? Math.min(req, this.ioPages) : this.raPages;
  }

  private static initSize(req: number, max: number): number {
    const n = 2 ** Math.ceil(Math.log2(Math.max(1, req)));
    if (n <= max / 32) return n * 4;
    if (n <= max / 4) return n * 2;
    return max;
  }

  private static nextSize(cur: number, max: number): number {
    if (cur < max / 16) return 4 * cur;
    if (cur <= max / 2) return 2 * cur;
    return max;
  }

  private syncRa(index: number, req: number, demandEnd: number): void {
    if (this.raPages === 0) {
      this.readWindow(index, 1, 0, demandEnd);
      return;
    }
    const max = this.maxPages(req);
    const prevIndex = this.prevPos < 0 ? -Infinity : Math.floor(this.prevPos / PAGE);
    const d = index - prevIndex;
    if (index === 0 || req > max || (d >= 0 && d <= 1)) {
      const size = Sim.initSize(req, max);
      this.ra = { start: index, size, async: size > req ? size - req : size >> 1 };
    } else {
      // page_cache_prev_miss(index - 1, max): cached pages right before index.
      let p = index - 1;
      const lo = Math.max(0, index - max);
      while (p >= lo && this.has(p)) p--;
      const fromZero = p < 0;
      let contig = index - 1 - p;
      if (contig <= req) {
        this.readWindow(index, req, 0, demandEnd);
        return;
      }
      if (fromZero) contig *= 2;
      this.ra = { start: index, size: Math.min(contig + req, max), async: 1 };
    }
    this.readWindow(this.ra.start, this.ra.size, this.ra.async, demandEnd);
  }

  private asyncRa(index: number, req: number, demandEnd: number): void {
    if (this.raPages === 0) return;
    const f = this.lru.get(index)!;
    this.lru.set(index, f & ~F_MARKER);
    const max = this.maxPages(req);
    if (index === this.ra.start + this.ra.size - this.ra.async) {
      this.ra.start += this.ra.size;
      this.ra.size = Sim.nextSize(this.ra.size, max);
      this.ra.async = this.ra.size;
    } else {
      let start = index + 1;
      while (start - index <= max && this.has(start)) start++;
      if (start - index > max) return;
      const size = Sim.nextSize(start - index + req, max);
      this.ra = { start, size, async: size };
    }
    this.inAsync = true;
    this.readWindow(this.ra.start, this.ra.size, this.ra.async, demandEnd);
    this.inAsync = false;
  }

  read(offset: number, bytes: number): void {
    const first = Math.floor(offset / PAGE);
    const last = Math.ceil((offset + bytes) / PAGE);
    this.s.appRequests++;
    this.s.appBytes += bytes;
    let pos = first;
    while (pos < last) {
      if (!this.has(pos)) {
        this.s.missPages++;
        this.syncRa(pos, last - pos, last);
        if (!this.has(pos)) this.readWindow(pos, 1, 0, last);
        this.touch(pos);
        pos++;
        continue;
      }
      // filemap_get_read_batch: present pages up to the request's end, at most a batch.
      let end = pos;
      let lastFlags = 0;
      while (end < last && end - pos < BATCH_PAGES && this.has(end)) {
        lastFlags = this.touch(end);
        this.s.hitPages++;
        end++;
      }
      if (lastFlags & F_MARKER) this.asyncRa(end - 1, last - (end - 1), last);
      pos = end;
    }
    this.prevPos = offset + bytes;
  }

  /** Buffered write: the written pages are cached (they reach the device later, not counted as reads). */
  write(offset: number, bytes: number): void {
    for (let p = Math.floor(offset / PAGE); p < Math.ceil((offset + bytes) / PAGE); p++) {
      if (this.has(p)) this.touch(p);
      else this.insert(p, 0);
    }
  }

  finish(cost: DeviceCost): ReadaheadStats {
    for (const f of this.lru.values()) if (f & F_UNUSED) this.s.wastedPages++;
    // The application waits for synchronous reads; async readahead overlaps with
    // the application's own work and only costs what exceeds it.
    const app = (this.s.appRequests * cost.appRequestUs) / 1e6;
    const dev = (rounds: number, bytes: number) => (rounds * cost.requestUs) / 1e6 + bytes / cost.bytesPerSec;
    const sync = dev(this.s.deviceRounds - this.s.asyncDeviceRounds, this.s.deviceBytes - this.s.asyncDeviceBytes);
    const asyncDev = dev(this.s.asyncDeviceRounds, this.s.asyncDeviceBytes);
    this.s.seconds = app + sync + Math.max(0, asyncDev - app);
    return this.s;
  }
}

/** Replay a trace's requests through the model for one read_ahead_kb. */
export function simulateReadahead(batch: TraceBatch, readAheadKb: number, opts: ReadaheadModelOptions = {}): ReadaheadStats {
  const deviceBytes = opts.deviceBytes ?? Infinity;
  const plan = planReplay(batch, deviceBytes, { allowWrite: true, align: 512 });
  const maxSectorsKb = opts.maxSectorsKb ?? 1280;
  const cost = opts.cost ?? DEFAULT_COST;
  const sim = new Sim(
    Math.floor(readAheadKb / 4),
    Math.max(1, Math.floor(maxSectorsKb / 4)),
    Math.max(16, Math.floor((opts.cacheBytes ?? 1 << 30) / PAGE)),
    Number.isFinite(deviceBytes) ? Math.floor(deviceBytes / PAGE) : Number.MAX_SAFE_INTEGER,
    Math.max(1, cost.parallelism ?? 1),
  );
  for (let i = 0; i < plan.offsets.length; i++) {
    if (plan.writes[i]) sim.write(plan.offsets[i]!, plan.lengths[i]!);
    else sim.read(plan.offsets[i]!, plan.lengths[i]!);
  }
  return sim.finish(cost);
}

export class ReadaheadModelEvaluator implements Evaluator {
  readonly name = 'readahead-model';
  readonly space = 'host';
  constructor(private readonly opts: ReadaheadModelOptions = {}) {}

  async evaluate(config: Configuration, workload: WorkloadRef, eo: EvaluateOptions = {}): Promise<Metrics> {
    const parts: TraceBatch[] = [];
    for await (const b of await workload.open()) {
      if (eo.signal?.aborted) throw eo.signal.reason ?? new Error('aborted');
      parts.push(b);
    }
    const batch = concatBatches(parts);
    const ra = config.read_ahead_kb !== undefined ? Number(config.read_ahead_kb) : this.opts.readAheadKb ?? 128;
    const ms = config.max_sectors_kb !== undefined ? Number(config.max_sectors_kb) : this.opts.maxSectorsKb;
    const s = simulateReadahead(batch, ra, { ...this.opts, maxSectorsKb: ms });
    eo.onProgress?.(1);
    const reads = s.hitPages + s.missPages;
    let readOps = 0;
    for (let i = 0; i < batch.length; i++) if (batch.op[i]! & Op.READ) readOps++;
    return {
      iops: s.appRequests / s.seconds,
      throughputBps: s.appBytes / s.seconds,
      latencyMeanUs: (s.seconds * 1e6) / Math.max(1, s.appRequests),
      extra: {
        hitRatio: reads ? s.hitPages / reads : 0,
        hitPages: s.hitPages,
        missPages: s.missPages,
        deviceReads: s.deviceRequests,
        deviceBytesRead: s.deviceBytes,
        wastedPrefetchBytes: s.wastedPages * PAGE,
        readRequests: readOps,
      },
    };
  }
}
