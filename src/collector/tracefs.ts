/**
 * tracefs backend (no compiler needed): a private tracefs instance
 * `instances/ssdtune-<pid>-<n>` with block_rq_insert/issue/complete enabled and
 * filtered to the device in the kernel, the "mono" trace clock (same clock as
 * the eBPF backend), and the per-CPU `trace_pipe_raw` buffers read
 * non-blocking and decoded with the offsets the event format files give.
 * The instance is removed on stop, on exit and on SIGINT/SIGTERM.
 */
import { closeSync, constants, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ERR_COLLECT_BACKEND } from '../errors.js';
import { decodeRwbs } from '../readers/blkparse.js';
import { registerUndo } from '../util/cleanup.js';
import { deviceAlive, type BlockDevice } from '../blockdev/resolve.js';
import { LiveCapture, monoNowNs } from './live.js';
import { parseEventFormat, parseHeaderPage, requireField, type EventFormat, type FieldSpec, type PageLayout } from './tracefs-format.js';
import { decodePage } from './tracefs-page.js';
import type { CaptureOptions } from './types.js';

const EVENTS = ['block_rq_insert', 'block_rq_issue', 'block_rq_complete'] as const;
const INSERT = 0;
const ISSUE = 1;
const COMPLETE = 2;
/** Events are paired only once no CPU can still deliver an earlier one. */
const HOLD_NS = 300e6;

/** Where tracefs is mounted, or undefined. */
export function tracefsRoot(): string | undefined {
  try {
    for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const [, dir, type] = line.split(' ');
      if (type === 'tracefs' && dir && existsSync(path.join(dir, 'events'))) return dir;
    }
  } catch {
    /* no /proc */
  }
  for (const d of ['/sys/kernel/tracing', '/sys/kernel/debug/tracing']) if (existsSync(path.join(d, 'events', 'block'))) return d;
  return undefined;
}

interface Decoder {
  kind: number;
  dev: FieldSpec;
  sector: FieldSpec;
  nrSector: FieldSpec;
  bytes?: FieldSpec;
  rwbs: FieldSpec;
  comm?: FieldSpec;
  pid: FieldSpec;
}

interface RawEvent {
  ts: number;
  kind: number;
  sector: number;
  bytes: number;
  op: number;
  dev: number;
  pid: number;
  comm: string;
}

interface Start {
  q: number;
  i: number;
  bytes: number;
  op: number;
  pid: number;
}

let instanceSeq = 0;

function cstr(buf: Buffer, f: FieldSpec, base: number): string {
  const s = buf.subarray(base + f.offset, base + f.offset + f.size);
  const z = s.indexOf(0);
  return s.subarray(0, z < 0 ? s.length : z).toString('latin1');
}

/** Instances left by a capture process that no longer exists (killed with SIGKILL). */
export function removeStaleInstances(root: string): string[] {
  const dir = path.join(root, 'instances');
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const n of names) {
    const m = /^ssdtune-(\d+)(?:-\d+)?$/.exec(n);
    if (!m) continue;
    const pid = Number(m[1]);
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch (e) {
      alive = (e as NodeJS.ErrnoException).code === 'EPERM';
    }
    if (alive) continue;
    try {
      rmdirSync(path.join(dir, n));
      removed.push(n);
    } catch {
      /* busy: leave it */
    }
  }
  return removed;
}

export class TracefsCapture extends LiveCapture {
  readonly backend = 'tracefs' as const;
  readonly instance: string;
  private readonly fds: number[] = [];
  private readonly decoders = new Map<number, Decoder>();
  private readonly layout: PageLayout;
  private readonly page: Buffer;
  private pending: RawEvent[] = [];
  private readonly inflight = new Map<number, Start>();
  private readonly timer: NodeJS.Timeout;
  private readonly undo: () => void;
  private stopping: Promise<void> | undefined;

  constructor(device: BlockDevice, opts: CaptureOptions = {}) {
    super(device, opts, 'tracefs');
    const root = tracefsRoot();
    if (!root) throw ERR_COLLECT_BACKEND('tracefs', 'tracefs is not mounted', 'mount it: mount -t tracefs nodev /sys/kernel/tracing');
    removeStaleInstances(root);
    this.layout = parseHeaderPage(readFileSync(path.join(root, 'events', 'header_page'), 'utf8'), path.join(root, 'events', 'header_page'));
    this.instance = path.join(root, 'instances', `ssdtune-${process.pid}-${++instanceSeq}`);
    try {
      mkdirSync(this.instance);
    } catch (e) {
      throw ERR_COLLECT_BACKEND('tracefs', `cannot create ${this.instance}: ${(e as Error).message}`, 'run as root with tracefs mounted read-write');
    }
    this.undo = registerUndo(() => this.teardown());
    try {
      this.setup(device, opts);
    } catch (e) {
      this.undo();
      throw e;
    }
    this.page = Buffer.alloc(Math.max(this.layout.dataOffset + this.layout.dataSize, this.subbufBytes()));
    this.timer = setInterval(() => this.tick(), 50);
  }

  private subbufBytes(): number {
    try {
      return Number(readFileSync(path.join(this.instance, 'buffer_subbuf_size_kb'), 'utf8').trim()) * 1024;
    } catch {
      return 4096;
    }
  }

  private write(rel: string, value: string): void {
    const file = path.join(this.instance, rel);
    try {
      writeFileSync(file, value);
    } catch (e) {
      throw ERR_COLLECT_BACKEND('tracefs', `cannot write "${value.trim()}" to ${file}: ${(e as Error).message}`, 'check `ssdtune doctor`');
    }
  }

  private setup(device: BlockDevice, opts: CaptureOptions): void {
    this.write('tracing_on', '0');
    this.write('trace_clock', 'mono');
    this.write('buffer_size_kb', String(opts.bufferKb ?? 16384));
    let filter = `dev == ${device.disk.dev}`;
    if (device.partition) filter += ` && sector >= ${device.partition.start} && sector < ${device.partition.start + device.partition.sectors}`;
    EVENTS.forEach((name, kind) => {
      const file = path.join(this.instance, 'events', 'block', name, 'format');
      let ev: EventFormat;
      try {
        ev = parseEventFormat(readFileSync(file, 'utf8'), file);
      } catch (e) {
        if (kind === INSERT) return; // optional: requests issued directly have no insert
        throw e;
      }
      const f = (n: string): FieldSpec => requireField(ev, n, file);
      this.decoders.set(ev.id, {
        kind,
        dev: f('dev'),
        sector: f('sector'),
        nrSector: f('nr_sector'),
        rwbs: f('rwbs'),
        pid: f('common_pid'),
        ...(ev.fields.has('bytes') ? { bytes: f('bytes') } : {}),
        ...(ev.fields.has('comm') ? { comm: f('comm') } : {}),
      });
      this.write(`events/block/${name}/filter`, filter);
      this.write(`events/block/${name}/enable`, '1');
    });
    const cpus = readdirSync(path.join(this.instance, 'per_cpu')).filter((d) => /^cpu\d+$/.test(d));
    for (const c of cpus) {
      this.fds.push(openSync(path.join(this.instance, 'per_cpu', c, 'trace_pipe_raw'), constants.O_RDONLY | constants.O_NONBLOCK));
    }
    this.write('tracing_on', '1');
  }

  private readAll(): void {
    const page = this.page;
    for (const fd of this.fds) {
      for (;;) {
        let n: number;
        try {
          n = readSync(fd, page, 0, page.length, null);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === 'EAGAIN' || code === 'EWOULDBLOCK' || code === 'EINTR') break;
          throw e;
        }
        if (n <= 0) break;
        const r = decodePage(page.subarray(0, n), this.layout, (ts, off) => this.decodeEvent(page, ts, off));
        if (r.missed !== 0) this.addLost('tracefs ring buffer overrun (events)', r.missed < 0 ? 1 : r.missed);
      }
    }
  }

  private decodeEvent(buf: Buffer, ts: number, off: number): void {
    const d = this.decoders.get(buf.readUInt16LE(off));
    if (!d) return;
    const sector = buf.readUInt32LE(off + d.sector.offset) + buf.readUInt32LE(off + d.sector.offset + 4) * 2 ** 32;
    const bytes = d.bytes ? buf.readUInt32LE(off + d.bytes.offset) : buf.readUInt32LE(off + d.nrSector.offset) * 512;
    this.pending.push({
      ts,
      kind: d.kind,
      sector,
      bytes,
      op: decodeRwbs(cstr(buf, d.rwbs, off)), // the kernel's blk_fill_rwbs letters, as blkparse prints them
      dev: buf.readUInt32LE(off + d.dev.offset),
      pid: buf.readInt32LE(off + d.pid.offset),
      comm: d.comm && d.kind !== COMPLETE ? cstr(buf, d.comm, off) : '',
    });
  }

  /** Pair events older than the hold time (all when `all`), in time order across CPUs. */
  private pair(all: boolean): void {
    if (this.pending.length === 0) return;
    this.pending.sort((a, b) => a.ts - b.ts);
    const limit = all ? Infinity : monoNowNs() - HOLD_NS;
    let k = 0;
    for (; k < this.pending.length && this.pending[k]!.ts < limit; k++) {
      const e = this.pending[k]!;
      const s = this.inflight.get(e.sector);
      if (e.kind === COMPLETE) {
        if (!s) {
          this.counters.unpaired++;
          continue;
        }
        this.inflight.delete(e.sector);
        this.addRequest(s.q, s.i, e.ts, e.sector, s.bytes, s.op, e.dev, s.pid);
        continue;
      }
      if (s && e.kind === ISSUE) {
        s.i = e.ts;
        s.bytes = e.bytes; // as dispatched: merges after insert may have grown it
        s.op = e.op;
        continue;
      }
      this.inflight.set(e.sector, { q: e.ts, i: e.kind === ISSUE ? e.ts : NaN, bytes: e.bytes, op: e.op, pid: e.pid });
      this.noteProcess(e.pid, e.comm);
    }
    this.pending = this.pending.slice(k);
  }

  private tick(): void {
    try {
      this.readAll();
      this.pair(false);
      this.release();
      if (!deviceAlive(this.device)) {
        this.deviceVanished();
        void this.stop();
      }
    } catch (e) {
      void this.stop(e);
    }
  }

  /** Kernel-side counters of events the ring buffer overwrote or dropped. */
  private overrunFromStats(): number {
    let n = 0;
    for (const c of readdirSync(path.join(this.instance, 'per_cpu'))) {
      try {
        const s = readFileSync(path.join(this.instance, 'per_cpu', c, 'stats'), 'utf8');
        n += Number(/^overrun:\s*(\d+)/m.exec(s)?.[1] ?? 0) + Number(/^dropped events:\s*(\d+)/m.exec(s)?.[1] ?? 0);
      } catch {
        /* cpu gone */
      }
    }
    return n;
  }

  /** Synchronous, idempotent: safe from exit and signal handlers. */
  private teardown(): void {
    try {
      writeFileSync(path.join(this.instance, 'tracing_on'), '0');
    } catch {
      /* instance already gone */
    }
    for (const fd of this.fds.splice(0)) {
      try {
        closeSync(fd);
      } catch {
        /* already closed */
      }
    }
    for (const name of EVENTS) {
      try {
        writeFileSync(path.join(this.instance, 'events', 'block', name, 'enable'), '0');
      } catch {
        /* not enabled */
      }
    }
    try {
      rmdirSync(this.instance);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }

  stop(err?: unknown): Promise<void> {
    this.stopping ??= (async () => {
      clearInterval(this.timer);
      let failure = err;
      try {
        writeFileSync(path.join(this.instance, 'tracing_on'), '0');
        this.readAll(); // drain what the kernel still holds
        const overrun = this.overrunFromStats();
        const known = this.counters.lostBy['tracefs ring buffer overrun (events)'] ?? 0;
        if (overrun > known) this.addLost('tracefs ring buffer overrun (events)', overrun - known);
      } catch (e) {
        failure ??= e;
      }
      this.pair(true);
      this.noteUnfinished(this.inflight.size);
      try {
        this.undo();
      } catch (e) {
        failure ??= e;
      }
      this.finish(failure);
    })();
    return this.stopping;
  }
}
