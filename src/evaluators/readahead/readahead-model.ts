/**
 * The `readahead-model` evaluator (docs/tuning.md): a bounded LRU page
 * cache plus Linux's on-demand readahead (mm/readahead.c, filemap_read) and
 * buffered writeback, replayed over a trace in time: requests arrive at their
 * trace times (or scaled, or closed-loop), device requests queue on a device
 * that serves `parallelism` of them at once, and a read waits for exactly the
 * pages it needs, so readahead issued during the application's idle time is
 * free and readahead still in flight when the application catches up is not.
 * That is how replay intensity changes the result.
 *
 * Readahead rules, as in the kernel (page = 4 KiB, request = [index, last)):
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
 *
 * Time (the same definitions as the live replay, so the two can be compared):
 * - A request is issued at its arrival time when an application slot is free
 *   (`queueDepth` slots; recorded and scaled replay use 1, as the live replay
 *   does by default), or as soon as a slot frees (closed loop). Its latency is
 *   from issue to completion; the elapsed time from the first issue to the
 *   last completion.
 * - A device request costs requestUs + bytes / bytesPerSec on one of
 *   `parallelism` servers, first come first served.
 * - A read completes when its last page is up to date, plus appRequestUs.
 * - A write is copied into the cache (appRequestUs) and its pages are dirty;
 *   writeback starts when dirty data exceeds the background threshold and
 *   writes wait (balance_dirty_pages) while it exceeds the hard one. Every 5 s
 *   the flusher writes back the pages dirty for more than 30 s (the kernel's
 *   dirty_writeback / dirty_expire defaults). An evicted dirty page is written
 *   first.
 *
 * Cost: O(1) per page touched (a hash table and an intrusive LRU list in typed
 * arrays), so a trace is replayed in time linear in its pages. (A JavaScript
 * Map used as the LRU went quadratic: evicting its oldest entry scans the holes
 * deletions leave at the front of V8's ordered table.)
 */
import type { EvaluateOptions, Evaluator, Metrics, Replay, WorkloadRef } from '../types.js';
import type { Configuration } from '../../space/types.js';
import { concatBatches, type TraceBatch } from '../../trace/model.js';
import { planReplay } from '../live/replay-plan.js';
import { decodedOnce } from '../decoded.js';
import { grown } from '../../util/typed-grow.js';
import { ERR_TRACE_UNTIMED } from '../../errors.js';

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
   * Requests the device serves at once (default 1): the pieces of one
   * readahead window split at max_sectors_kb are served together, and at high
   * intensity so are the requests of overlapping reads.
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
  /**
   * How requests are issued: at the trace's times (recorded), faster
   * (scaled), or closed loop. Default for simulateReadahead: closed loop at
   * depth 1 (requests back to back); the evaluator's default: recorded.
   */
  replay?: Replay;
  /** Application slots in recorded/scaled replay (default 1, as the live replay). */
  queueDepth?: number;
  /** Dirty data above which writeback starts (default 10% of the cache) and writers are throttled (default 20%). */
  dirtyBackgroundBytes?: number;
  dirtyBytes?: number;
}

export interface ReadaheadStats {
  appRequests: number;
  appBytes: number;
  readRequests: number;
  writeRequests: number;
  /** Pages found in the cache when the application asked for them (up to date or still being read ahead). */
  hitPages: number;
  missPages: number;
  /** Of the hits, pages still being read when the application asked for them. */
  inFlightHitPages: number;
  /** Device reads (requests, bytes). */
  deviceRequests: number;
  deviceBytes: number;
  /** Device requests issued by async readahead. */
  asyncDeviceRequests: number;
  asyncDeviceBytes: number;
  /** Writeback to the device (requests, bytes). */
  deviceWrites: number;
  deviceBytesWritten: number;
  /** Pages read ahead and evicted or never used by the end. */
  wastedPages: number;
  /** First issue to last completion (s). */
  seconds: number;
  /** Sum of request latencies (s), reads and writes. */
  latencySum: number;
  readLatencySum: number;
  writeLatencySum: number;
}

/**
 * The flusher's age rule (vm.dirty_expire_centisecs 3000, vm.dirty_writeback_centisecs 500): every 5 s it writes
 * back the pages dirty for more than 30 s, whatever the thresholds. Without it a long trace that writes slowly kept
 * its dirty pages until the cache filled, then wrote them one by one in front of the reads that evicted them: on the
 * web server's 2,500 s load the whole trace ranked read_ahead_kb against every prefix (BENCHMARKS.md).
 */
const DIRTY_EXPIRE_NS = 30e9;
const WRITEBACK_INTERVAL_NS = 5e9;

// Page flags.
const F_MARKER = 1; // PG_readahead
const F_UNUSED = 2; // read ahead, not yet accessed
const F_DIRTY = 4;

/**
 * Open-addressing hash table from page number (an integer below 2^53) to a
 * slot, linear probing with backward-shift deletion (no tombstones, so a
 * table that sees millions of inserts and deletes never degrades). It grows
 * (doubles and rehashes) to stay at most half full: sized by the pages a
 * trace touches, not by the cache's capacity.
 */
export class PageTable {
  private keys: Float64Array;
  private vals: Int32Array;
  private mask: number;
  size = 0;
  /** `expected`: entries to make room for at once (more are welcome). */
  constructor(expected = 0) {
    let n = 16;
    while (n < 2 * expected) n *= 2;
    this.keys = new Float64Array(n).fill(-1);
    this.vals = new Int32Array(n);
    this.mask = n - 1;
  }
  private grow(): void {
    const { keys, vals } = this;
    this.keys = new Float64Array(2 * keys.length).fill(-1);
    this.vals = new Int32Array(2 * keys.length);
    this.mask = 2 * keys.length - 1;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      if (k === -1) continue;
      let j = this.home(k);
      while (this.keys[j] !== -1) j = (j + 1) & this.mask;
      this.keys[j] = k;
      this.vals[j] = vals[i]!;
    }
  }
  private home(k: number): number {
    const lo = k >>> 0;
    const hi = (k / 4294967296) >>> 0;
    let h = Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    return (h ^ (h >>> 16)) & this.mask;
  }
  get(k: number): number {
    for (let i = this.home(k); ; i = (i + 1) & this.mask) {
      const x = this.keys[i]!;
      if (x === k) return this.vals[i]!;
      if (x === -1) return -1;
    }
  }
  set(k: number, v: number): void {
    if (2 * (this.size + 1) > this.keys.length) this.grow();
    let i = this.home(k);
    while (this.keys[i] !== -1 && this.keys[i] !== k) i = (i + 1) & this.mask;
    if (this.keys[i] === -1) this.size++;
    this.keys[i] = k;
    this.vals[i] = v;
  }
  delete(k: number): void {
    let i = this.home(k);
    while (this.keys[i] !== k) {
      if (this.keys[i] === -1) return;
      i = (i + 1) & this.mask;
    }
    this.size--;
    // Backward shift: move later entries of the probe run into the hole when their home allows it.
    let j = i;
    for (;;) {
      j = (j + 1) & this.mask;
      const kj = this.keys[j]!;
      if (kj === -1) break;
      const h = this.home(kj);
      // Entry j may fill hole i if its home is not in the cyclic range (i, j].
      if (i <= j ? h <= i || h > j : h <= i && h > j) {
        this.keys[i] = kj;
        this.vals[i] = this.vals[j]!;
        i = j;
      }
    }
    this.keys[i] = -1;
  }
}

/** A device of `servers` identical servers, first come first served. */
class Device {
  private readonly free: Float64Array;
  constructor(
    servers: number,
    private readonly requestNs: number,
    private readonly nsPerByte: number,
  ) {
    this.free = new Float64Array(servers);
  }
  /** Completion time of a request of `bytes` submitted at `t`. */
  submit(t: number, bytes: number): number {
    let s = 0;
    for (let i = 1; i < this.free.length; i++) if (this.free[i]! < this.free[s]!) s = i;
    const end = Math.max(t, this.free[s]!) + this.requestNs + bytes * this.nsPerByte;
    this.free[s] = end;
    return end;
  }
}

/** Issue times: at arrival when one of `depth` slots is free, or whenever one frees (closed loop). */
class Slots {
  private readonly done: Float64Array;
  private last = 0;
  constructor(depth: number) {
    this.done = new Float64Array(Math.max(1, depth));
  }
  /** The issue time of a request arriving at `arrival` (ignored when undefined: closed loop); reserves the slot until `complete` is called. */
  issue(arrival: number | undefined): { t: number; slot: number } {
    let s = 0;
    for (let i = 1; i < this.done.length; i++) if (this.done[i]! < this.done[s]!) s = i;
    const t = Math.max(this.last, this.done[s]!, arrival ?? 0);
    this.last = t;
    return { t, slot: s };
  }
  complete(slot: number, t: number): void {
    this.done[slot] = t;
  }
}

class Sim {
  private readonly table = new PageTable();
  // Intrusive LRU list over slots 1..used; slot 0 is the sentinel (next = oldest, prev = newest). The slot arrays
  // grow with the pages cached, up to `capacity`: allocated whole, a 1 GiB cache's 262,144 frames cost more than
  // the replay of a short trace (BENCHMARKS.md, "What a host-space evaluation costs").
  private prev: Int32Array;
  private next: Int32Array;
  private pageOf: Float64Array;
  private flags: Uint8Array;
  private readyAt: Float64Array;
  /** Slots in use (1..used): pages are only evicted to make room, so a slot once used stays in use. */
  private used = 0;
  private readonly head = 0;
  private ra = { start: 0, size: 0, async: 0 };
  private prevPos = -1;
  /** The application's clock within the request being processed. */
  private now = 0;
  private inAsync = false;
  private dirty = 0;
  /** Dirty pages in the order they became dirty (ring of pages; a page cleaned or evicted is skipped when reached). */
  private dirtyQueue: Float64Array;
  /** When each page of the ring became dirty. */
  private dirtyTime: Float64Array;
  private dqHead = 0;
  private dqLen = 0;
  /** Completion times of writeback requests and their pages, oldest first, for throttling. */
  private wbEnds: number[] = [];
  private wbPages: number[] = [];
  private wbFirst = 0;
  private wbOutstanding = 0;
  readonly s: ReadaheadStats = {
    appRequests: 0,
    appBytes: 0,
    readRequests: 0,
    writeRequests: 0,
    hitPages: 0,
    missPages: 0,
    inFlightHitPages: 0,
    deviceRequests: 0,
    deviceBytes: 0,
    asyncDeviceRequests: 0,
    asyncDeviceBytes: 0,
    deviceWrites: 0,
    deviceBytesWritten: 0,
    wastedPages: 0,
    seconds: 0,
    latencySum: 0,
    readLatencySum: 0,
    writeLatencySum: 0,
  };

  constructor(
    private readonly raPages: number,
    private readonly ioPages: number,
    private readonly capacity: number,
    private readonly endPage: number,
    private readonly device: Device,
    private readonly dirtyBackground: number,
    private readonly dirtyLimit: number,
  ) {
    const slots = Math.min(capacity, 1024);
    this.prev = new Int32Array(slots + 1);
    this.next = new Int32Array(slots + 1);
    this.pageOf = new Float64Array(slots + 1);
    this.flags = new Uint8Array(slots + 1);
    this.readyAt = new Float64Array(slots + 1);
    this.prev[this.head] = this.head;
    this.next[this.head] = this.head;
    this.dirtyQueue = new Float64Array(1024);
    this.dirtyTime = new Float64Array(1024);
  }

  /** A slot never used before, the arrays doubled (up to the capacity) when they are full. */
  private newSlot(): number {
    if (this.used + 1 === this.prev.length) {
      const n = Math.min(this.capacity, 2 * this.used) + 1;
      this.prev = grown(this.prev, Int32Array, n);
      this.next = grown(this.next, Int32Array, n);
      this.pageOf = grown(this.pageOf, Float64Array, n);
      this.flags = grown(this.flags, Uint8Array, n);
      this.readyAt = grown(this.readyAt, Float64Array, n);
    }
    return ++this.used;
  }

  private unlink(x: number): void {
    this.next[this.prev[x]!] = this.next[x]!;
    this.prev[this.next[x]!] = this.prev[x]!;
  }
  private pushNewest(x: number): void {
    const h = this.head;
    const last = this.prev[h]!;
    this.next[last] = x;
    this.prev[x] = last;
    this.next[x] = h;
    this.prev[h] = x;
  }

  /** Slot of a cached page, or -1. */
  private find(p: number): number {
    return this.table.get(p);
  }

  /** Access by the application: LRU touch, clear "unused"; returns the slot. */
  private touch(x: number): void {
    this.unlink(x);
    this.pushNewest(x);
    this.flags[x]! &= ~F_UNUSED;
  }

  /** Evicts the least recently used page; returns its slot. */
  private evictOldest(): number {
    const x = this.next[this.head]!;
    if (this.flags[x]! & F_UNUSED) this.s.wastedPages++;
    // A dirty page is written before its frame is reused.
    if (this.flags[x]! & F_DIRTY) {
      this.flags[x]! &= ~F_DIRTY;
      this.dirty--;
      this.submitWrite(PAGE);
    }
    this.unlink(x);
    this.table.delete(this.pageOf[x]!);
    return x;
  }

  private insert(p: number, flags: number, ready: number): number {
    const x = this.used === this.capacity ? this.evictOldest() : this.newSlot();
    this.pageOf[x] = p;
    this.flags[x] = flags;
    this.readyAt[x] = ready;
    this.table.set(p, x);
    this.pushNewest(x);
    return x;
  }

  /** One submission of `pages` contiguous new pages (their slots): split at max_sectors_kb; their pages become ready as each piece completes. */
  private submitRead(pages: number, slots: number[]): void {
    for (let off = 0; off < pages; off += this.ioPages) {
      const n = Math.min(this.ioPages, pages - off);
      const end = this.device.submit(this.now, n * PAGE);
      for (let k = 0; k < n; k++) this.readyAt[slots[off + k]!] = end;
      this.s.deviceRequests++;
      this.s.deviceBytes += n * PAGE;
      if (this.inAsync) {
        this.s.asyncDeviceRequests++;
        this.s.asyncDeviceBytes += n * PAGE;
      }
    }
  }

  /** do_page_cache_ra / page_cache_ra_unbounded: read missing pages of [index, index+nr), marker at nr-lookahead. */
  private readWindow(index: number, nr: number, lookahead: number, demand: number): void {
    // A window never exceeds half the cache (it would evict its own pages while being read).
    nr = Math.min(nr, this.endPage - index, this.capacity >> 1);
    if (nr <= 0) return;
    const mark = lookahead > 0 ? index + nr - lookahead : -1;
    const run: number[] = [];
    for (let p = index; p < index + nr; p++) {
      if (this.find(p) >= 0) {
        if (run.length) this.submitRead(run.length, run);
        run.length = 0;
        continue;
      }
      // Pages beyond what the application asked for count as prefetch.
      run.push(this.insert(p, (p === mark ? F_MARKER : 0) | (p >= demand ? F_UNUSED : 0), Infinity));
    }
    if (run.length) this.submitRead(run.length, run);
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
      while (p >= lo && this.find(p) >= 0) p--;
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
    const x = this.find(index);
    this.flags[x]! &= ~F_MARKER;
    const max = this.maxPages(req);
    if (index === this.ra.start + this.ra.size - this.ra.async) {
      this.ra.start += this.ra.size;
      this.ra.size = Sim.nextSize(this.ra.size, max);
      this.ra.async = this.ra.size;
    } else {
      let start = index + 1;
      while (start - index <= max && this.find(start) >= 0) start++;
      if (start - index > max) return;
      const size = Sim.nextSize(start - index + req, max);
      this.ra = { start, size, async: size };
    }
    this.inAsync = true;
    this.readWindow(this.ra.start, this.ra.size, this.ra.async, demandEnd);
    this.inAsync = false;
  }

  /** A buffered read issued at `t`; returns its completion time before the per-request cost. */
  read(t: number, offset: number, bytes: number): number {
    const first = Math.floor(offset / PAGE);
    const last = Math.ceil((offset + bytes) / PAGE);
    this.writebackExpired(t);
    this.now = t;
    let pos = first;
    while (pos < last) {
      const x = this.find(pos);
      if (x < 0) {
        this.s.missPages++;
        this.syncRa(pos, last - pos, last);
        let y = this.find(pos);
        if (y < 0) {
          this.readWindow(pos, 1, 0, last);
          y = this.find(pos);
        }
        this.touch(y);
        this.now = Math.max(this.now, this.readyAt[y]!);
        pos++;
        continue;
      }
      // filemap_get_read_batch: present pages up to the request's end, at most a batch;
      // the async trigger happens at lookup, before waiting for the batch to be up to date.
      let end = pos;
      let lastFlags = 0;
      let ready = this.now;
      while (end < last && end - pos < BATCH_PAGES) {
        const y = this.find(end);
        if (y < 0) break;
        lastFlags = this.flags[y]!;
        this.touch(y);
        this.s.hitPages++;
        if (this.readyAt[y]! > this.now) this.s.inFlightHitPages++;
        ready = Math.max(ready, this.readyAt[y]!);
        end++;
      }
      if (lastFlags & F_MARKER) this.asyncRa(end - 1, last - (end - 1), last);
      this.now = ready;
      pos = end;
    }
    this.prevPos = offset + bytes;
    return this.now;
  }

  /** A buffered write issued at `t`: the pages are dirtied in the cache; throttled while dirty data exceeds the limit. */
  write(t: number, offset: number, bytes: number): number {
    this.writebackExpired(t);
    this.now = t;
    for (let p = Math.floor(offset / PAGE); p < Math.ceil((offset + bytes) / PAGE); p++) {
      let x = this.find(p);
      if (x >= 0) this.touch(x);
      else x = this.insert(p, 0, t);
      if (!(this.flags[x]! & F_DIRTY)) {
        this.flags[x]! |= F_DIRTY;
        this.dirty++;
        this.enqueueDirty(p);
      }
    }
    // The flusher writes in chunks of up to 4 MiB (MIN_WRITEBACK_PAGES), not page by page as writes arrive.
    if (this.dirty > this.dirtyBackground) this.writeback(this.dirty - this.dirtyBackground + Math.min(1024, this.dirtyBackground >> 1));
    // balance_dirty_pages: wait while writeback in flight keeps dirty + writing above the limit.
    this.retireWriteback(this.now);
    while (this.dirty + this.wbOutstanding > this.dirtyLimit && this.wbFirst < this.wbEnds.length) {
      this.now = Math.max(this.now, this.wbEnds[this.wbFirst]!);
      this.retireWriteback(this.now);
    }
    return this.now;
  }

  private enqueueDirty(p: number): void {
    const n = this.dirtyQueue.length;
    if (this.dqLen === n) {
      const pages = new Float64Array(n * 2);
      const times = new Float64Array(n * 2);
      for (let i = 0; i < this.dqLen; i++) {
        pages[i] = this.dirtyQueue[(this.dqHead + i) % n]!;
        times[i] = this.dirtyTime[(this.dqHead + i) % n]!;
      }
      this.dirtyQueue = pages;
      this.dirtyTime = times;
      this.dqHead = 0;
    }
    const at = (this.dqHead + this.dqLen) % this.dirtyQueue.length;
    this.dirtyQueue[at] = p;
    this.dirtyTime[at] = this.now;
    this.dqLen++;
  }

  /** The flusher's wake-ups up to `t`: each writes back the pages dirty for more than DIRTY_EXPIRE_NS. */
  private writebackExpired(t: number): void {
    while (this.dqLen > 0) {
      // The first wake-up that finds the oldest entry expired (entries of pages since cleaned go with it).
      const wake = Math.ceil((this.dirtyTime[this.dqHead]! + DIRTY_EXPIRE_NS) / WRITEBACK_INTERVAL_NS) * WRITEBACK_INTERVAL_NS;
      if (wake > t) return;
      this.writeback(Infinity, wake, wake - DIRTY_EXPIRE_NS);
    }
  }

  private retireWriteback(t: number): void {
    while (this.wbFirst < this.wbEnds.length && this.wbEnds[this.wbFirst]! <= t) this.wbOutstanding -= this.wbPages[this.wbFirst++]!;
    if (this.wbFirst > 1024 && this.wbFirst * 2 > this.wbEnds.length) {
      this.wbEnds = this.wbEnds.slice(this.wbFirst);
      this.wbPages = this.wbPages.slice(this.wbFirst);
      this.wbFirst = 0;
    }
  }

  private submitWrite(bytes: number, t = this.now): void {
    const end = this.device.submit(t, bytes);
    this.s.deviceWrites++;
    this.s.deviceBytesWritten += bytes;
    this.wbEnds.push(end);
    this.wbPages.push(bytes / PAGE);
    this.wbOutstanding += bytes / PAGE;
  }

  /**
   * Writes back (at least) `pages` of the oldest dirty pages, contiguous runs merged up to max_sectors_kb, submitted
   * at `t`; only those dirtied at or before `before`.
   */
  private writeback(pages: number, t = this.now, before = Infinity): void {
    let done = 0;
    let runStart = -1;
    let runLen = 0;
    const flush = (): void => {
      if (runLen === 0) return;
      this.submitWrite(runLen * PAGE, t);
      runLen = 0;
    };
    while (done < pages && this.dqLen > 0 && this.dirtyTime[this.dqHead]! <= before) {
      const p = this.dirtyQueue[this.dqHead]!;
      this.dqHead = (this.dqHead + 1) % this.dirtyQueue.length;
      this.dqLen--;
      const x = this.find(p);
      if (x < 0 || !(this.flags[x]! & F_DIRTY)) continue;
      this.flags[x]! &= ~F_DIRTY;
      this.dirty--;
      done++;
      if (runLen > 0 && p === runStart + runLen && runLen < this.ioPages) runLen++;
      else {
        flush();
        runStart = p;
        runLen = 1;
      }
    }
    flush();
  }

  finish(): void {
    for (let x = this.next[this.head]!; x !== this.head; x = this.next[x]!) if (this.flags[x]! & F_UNUSED) this.s.wastedPages++;
  }
}

/**
 * Replay a trace's requests through the model for one read_ahead_kb (and
 * max_sectors_kb from the options): counts, and times under opts.replay.
 */
export function simulateReadahead(batch: TraceBatch, readAheadKb: number, opts: ReadaheadModelOptions = {}): ReadaheadStats {
  const deviceBytes = opts.deviceBytes ?? Infinity;
  const plan = planReplay(batch, deviceBytes, { allowWrite: true, align: 512 });
  const maxSectorsKb = opts.maxSectorsKb ?? 1280;
  const cost = opts.cost ?? DEFAULT_COST;
  const capacity = Math.max(16, Math.floor((opts.cacheBytes ?? 1 << 30) / PAGE));
  const replay = opts.replay ?? { mode: 'closed', queueDepth: 1 };
  const sim = new Sim(
    Math.floor(readAheadKb / 4),
    Math.max(1, Math.floor(maxSectorsKb / 4)),
    capacity,
    Number.isFinite(deviceBytes) ? Math.floor(deviceBytes / PAGE) : Number.MAX_SAFE_INTEGER,
    new Device(Math.max(1, Math.round(cost.parallelism ?? 1)), cost.requestUs * 1e3, 1e9 / cost.bytesPerSec),
    Math.max(1, Math.floor((opts.dirtyBackgroundBytes ?? capacity * PAGE * 0.1) / PAGE)),
    Math.max(2, Math.floor((opts.dirtyBytes ?? capacity * PAGE * 0.2) / PAGE)),
  );
  const slots = new Slots(replay.mode === 'closed' ? replay.queueDepth : (opts.queueDepth ?? 1));
  const speed = replay.mode === 'scaled' ? replay.speedup : 1;
  const appNs = cost.appRequestUs * 1e3;
  const s = sim.s;
  let firstIssue = Infinity;
  let lastDone = 0;
  for (let i = 0; i < plan.offsets.length; i++) {
    const { t, slot } = slots.issue(replay.mode === 'closed' ? undefined : plan.timesNs[i]! / speed);
    firstIssue = Math.min(firstIssue, t);
    const write = plan.writes[i] === 1;
    const done = (write ? sim.write(t, plan.offsets[i]!, plan.lengths[i]!) : sim.read(t, plan.offsets[i]!, plan.lengths[i]!)) + appNs;
    slots.complete(slot, done);
    lastDone = Math.max(lastDone, done);
    const lat = (done - t) / 1e9;
    s.latencySum += lat;
    if (write) {
      s.writeRequests++;
      s.writeLatencySum += lat;
    } else {
      s.readRequests++;
      s.readLatencySum += lat;
    }
    s.appRequests++;
    s.appBytes += plan.lengths[i]!;
  }
  sim.finish();
  s.seconds = s.appRequests ? (lastDone - firstIssue) / 1e9 : 0;
  return s;
}

export class ReadaheadModelEvaluator implements Evaluator {
  readonly name = 'readahead-model';
  readonly space = 'host';
  /** Decoding the trace cost 400-700 CPU-ms an evaluation on the web server's load, the model 5-200 (BENCHMARKS.md). */
  private readonly open = decodedOnce();
  constructor(private readonly opts: ReadaheadModelOptions = {}) {}

  async evaluate(config: Configuration, workload: WorkloadRef, eo: EvaluateOptions = {}): Promise<Metrics> {
    const parts: TraceBatch[] = [];
    for await (const b of await this.open(workload)) {
      if (eo.signal?.aborted) throw eo.signal.reason ?? new Error('aborted');
      parts.push(b);
    }
    const batch = concatBatches(parts);
    const ra = config.read_ahead_kb !== undefined ? Number(config.read_ahead_kb) : (this.opts.readAheadKb ?? 128);
    const ms = config.max_sectors_kb !== undefined ? Number(config.max_sectors_kb) : this.opts.maxSectorsKb;
    const s = simulateReadahead(batch, ra, {
      ...this.opts,
      replay: this.opts.replay ?? { mode: 'recorded' },
      ...(ms !== undefined ? { maxSectorsKb: ms } : {}),
    });
    eo.onProgress?.(1);
    if (s.appRequests === 0)
      throw ERR_TRACE_UNTIMED(
        workload.name,
        `none of its ${batch.length} requests is a read or write the model replays`,
        'it passes over discards, flushes (and writes carrying one) and zero-size requests',
      );
    const reads = s.hitPages + s.missPages;
    // A replay that takes no time (every request a cache hit at zero cost) still has its requests: floor at 1 ns each.
    const seconds = Math.max(s.seconds, s.appRequests * 1e-9);
    return {
      iops: s.appRequests / seconds,
      throughputBps: s.appBytes / seconds,
      latencyMeanUs: Math.max(1e-3, (s.latencySum * 1e6) / s.appRequests),
      extra: {
        hitRatio: reads ? s.hitPages / reads : 0,
        hitPages: s.hitPages,
        missPages: s.missPages,
        inFlightHitPages: s.inFlightHitPages,
        deviceReads: s.deviceRequests,
        deviceBytesRead: s.deviceBytes,
        deviceWrites: s.deviceWrites,
        deviceBytesWritten: s.deviceBytesWritten,
        wastedPrefetchBytes: s.wastedPages * PAGE,
        readRequests: s.readRequests,
        writeRequests: s.writeRequests,
        readLatencyMeanUs: s.readRequests ? (s.readLatencySum * 1e6) / s.readRequests : 0,
        writeLatencyMeanUs: s.writeRequests ? (s.writeLatencySum * 1e6) / s.writeRequests : 0,
        elapsedSeconds: s.seconds,
      },
    };
  }
}
