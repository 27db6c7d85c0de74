/**
 * Progress of long work on stderr: a bar redrawn in place when stderr is a
 * terminal, log lines when it is not (scripts, cron, CI: a multi-minute
 * search must not be silent there), or nothing. Each update may say which
 * phase the work is in and the best grade so far; the ETA comes from the
 * pace since the current phase began.
 *
 *   tune: search 7/30 evaluations, best grade 0.213, 1m04s elapsed, ETA 3m20s
 *
 * Log lines are written when the phase changes, and otherwise at most every
 * `logEveryMs` (default 10 s), the first of them one interval after the start:
 * a job with no phases that ends sooner prints nothing, a long one a few lines
 * a minute, not thousands.
 * --json output goes to stdout and is never mixed with them.
 */
import type { ProgressMode } from '../config.js';

export interface ProgressInfo {
  /** What the work is doing now ('characterising', 'screening', 'search'). */
  phase?: string;
  /** Best grade so far. */
  best?: number;
  /** Unit of done/total, for log lines ('evaluations', 'requests'); default none. */
  unit?: string;
  /**
   * What the step just done held beside its configuration (a live trial: the kernel changed an attribute nobody chose
   * and ssdtune held it), in words. A log writes such a line whatever its rate limit: it says what was measured.
   */
  held?: string;
}

export interface Progress {
  update(done: number, total: number, info?: ProgressInfo): void;
  done(): void;
}

const SILENT: Progress = { update() {}, done() {} };

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

export interface ProgressOptions {
  mode?: ProgressMode;
  stream?: NodeJS.WriteStream | NodeJS.WritableStream;
  /** Least time between two log lines of the same phase (default 10 s). */
  logEveryMs?: number;
  /** The clock (tests). */
  now?: () => number;
}

/** SSDTUNE_PROGRESS for commands that load no settings; 'auto' when unset or unknown (loadSettings reports a bad value). */
export function envProgressMode(): ProgressMode {
  const v = process.env.SSDTUNE_PROGRESS;
  return v === 'bar' || v === 'log' || v === 'none' ? v : 'auto';
}

/** The reporter `mode` asks for ('auto': a bar on a terminal, log lines otherwise). */
export function progressReporter(label: string, o: ProgressOptions = {}): Progress {
  const stream = (o.stream ?? process.stderr) as NodeJS.WriteStream;
  const mode = o.mode ?? 'auto';
  if (mode === 'none') return SILENT;
  const useBar = mode === 'bar' || (mode === 'auto' && stream.isTTY === true);
  return useBar ? progressBar(label, stream, o.now) : progressLog(label, stream, o.logEveryMs ?? 10_000, o.now);
}

/** Shared state: the phase and its pace, for the ETA. */
function tracker(now: () => number) {
  const start = now();
  let phase: string | undefined;
  let phaseStart = start;
  let phaseDone0 = 0;
  return {
    start,
    /** Returns true when the phase changed. */
    step(done: number, info: ProgressInfo | undefined): boolean {
      const p = info?.phase;
      if (p !== undefined && p !== phase) {
        phase = p;
        phaseStart = now();
        phaseDone0 = done;
        return true;
      }
      return false;
    },
    get phase() {
      return phase;
    },
    eta(done: number, total: number): number {
      const rate = (done - phaseDone0) / Math.max(1, now() - phaseStart);
      return total > done && rate > 0 ? (total - done) / rate : total > 0 && done >= total ? 0 : NaN;
    },
  };
}

function describe(label: string, done: number, total: number, info: ProgressInfo | undefined, t: ReturnType<typeof tracker>, now: number): string {
  const parts = [`${label}:`];
  if (t.phase) parts.push(t.phase);
  parts.push(total > 0 ? `${done}/${total}${info?.unit ? ` ${info.unit}` : ''}` : `${done}${info?.unit ? ` ${info.unit}` : ''}`);
  let s = parts.join(' ');
  if (info?.best !== undefined && Number.isFinite(info.best)) s += `, best grade ${info.best.toFixed(3)}`;
  s += `, ${formatDuration(now - t.start)} elapsed`;
  const eta = t.eta(done, total);
  if (Number.isFinite(eta) && done < total) s += `, ETA ${formatDuration(eta)}`;
  if (info?.held) s += `; held ${info.held}`;
  return s;
}

export function progressLog(label: string, stream: NodeJS.WriteStream = process.stderr, everyMs = 10_000, now: () => number = Date.now): Progress {
  const t = tracker(now);
  // The first periodic line comes after one interval: a job shorter than that prints none (phase changes aside).
  let last = t.start;
  let printed = false;
  let lastLine = '';
  let pending: { done: number; total: number; info?: ProgressInfo } | undefined;
  const write = (done: number, total: number, info?: ProgressInfo): void => {
    const line = describe(label, done, total, info, t, now());
    if (line === lastLine) return;
    stream.write(line + '\n');
    printed = true;
    lastLine = line;
    last = now();
    pending = undefined;
  };
  return {
    update(done, total, info) {
      const changed = t.step(done, info);
      if (changed || info?.held || now() - last >= everyMs || (printed && total > 0 && done >= total)) write(done, total, info);
      else pending = { done, total, ...(info ? { info } : {}) };
    },
    done() {
      // The last state, if the rate limit held it back and the job said anything at all.
      if (pending && printed) write(pending.done, pending.total, pending.info);
    },
  };
}

export function progressBar(label: string, stream: NodeJS.WriteStream = process.stderr, now: () => number = Date.now): Progress {
  const t = tracker(now);
  let last = 0;
  const draw = (done: number, total: number, info?: ProgressInfo): void => {
    const text = describe(label, done, total, info, t, now());
    const width = Math.max(10, Math.min(30, (stream.columns ?? 100) - text.length - 4));
    const frac = total > 0 ? Math.min(1, done / total) : 0;
    const filled = Math.round(frac * width);
    stream.write(`\r\x1b[K[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}`);
  };
  return {
    update(done, total, info) {
      const changed = t.step(done, info);
      if (!changed && now() - last < 100) return;
      last = now();
      draw(done, total, info);
    },
    done() {
      stream.write('\r\x1b[K');
    },
  };
}
