/**
 * A tracefs instance beside an eBPF capture, recording block_rq_complete on one device with the thread
 * group that was current when it fired. The eBPF program misses a completion only where the kernel
 * skips it (its recursion guard, or PID 1 current on kernels that gate BPF there, as the VM kernels
 * here do), and tracefs events are not BPF: the witness tells which cause applied to each request a
 * capture lacks. Shared by the collector's library tests and its CLI test, so both account a miss the
 * same way.
 */
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tracefsRoot } from '../../src/collector/tracefs.js';
import { registerUndo } from '../../src/util/cleanup.js';

export interface CompletionWitness {
  /** Completions seen so far, by "op sector" (op is read or write): the tgid current at each. */
  read(): Map<string, number[]>;
  close(): void;
}

let instances = 0;

/** Starts recording completions on /dev/NAME; undefined where tracefs is absent. Removed at exit should the test not close it. */
export function completionWitness(name: string): CompletionWitness | undefined {
  const root = tracefsRoot();
  if (!root) return undefined;
  const [maj, min] = readFileSync(`/sys/block/${name}/dev`, 'utf8').trim().split(':').map(Number);
  const dir = path.join(root, 'instances', `ssdtune-${process.pid}-witness-${++instances}`);
  const ev = path.join(dir, 'events', 'block', 'block_rq_complete');
  mkdirSync(dir);
  const close = registerUndo(() => {
    try {
      writeFileSync(path.join(ev, 'enable'), '0');
    } finally {
      rmdirSync(dir);
    }
  });
  try {
    writeFileSync(path.join(dir, 'buffer_size_kb'), '2048');
    writeFileSync(path.join(dir, 'options', 'record-tgid'), '1');
    writeFileSync(path.join(ev, 'filter'), `dev == ${(maj! << 20) | min!}`);
    writeFileSync(path.join(ev, 'enable'), '1');
  } catch (e) {
    close();
    throw e;
  }
  const read = (): Map<string, number[]> => {
    const out = new Map<string, number[]>();
    // "  ksoftirqd/1-24  (   24) [001] ..s.. 57871.422957: block_rq_complete: 7,0 R () 3952 + 8 be,0,4 [0]"
    for (const line of readFileSync(path.join(dir, 'trace'), 'utf8').split('\n')) {
      const m = /-\d+\s+\(\s*(\d+)\)\s+\[\d+\].*: block_rq_complete: \S+ (\S+) \(\S*\) (\d+) \+/.exec(line);
      if (!m) continue;
      const k = `${m[2]!.includes('W') ? 'write' : 'read'} ${m[3]}`;
      const l = out.get(k);
      if (l) l.push(Number(m[1]));
      else out.set(k, [Number(m[1])]);
    }
    return out;
  };
  return { read, close };
}

/**
 * Of the requests a capture lacks (by "op sector bytes", with how many of each), how many the witness saw
 * complete while PID 1 was current, and the others, described.
 */
export function completedUnderInit(seen: Map<string, number[]>, missing: Map<string, number>): { onInit: number; elsewhere: string[] } {
  let onInit = 0;
  const elsewhere: string[] = [];
  for (const [k, n] of missing) {
    if (n <= 0) continue;
    const tgids = seen.get(k.split(' ', 2).join(' ')) ?? [];
    const init = Math.min(n, tgids.filter((t) => t === 1).length);
    onInit += init;
    if (init < n) elsewhere.push(`${k} completed under tgid ${tgids.join('/') || '(no tracefs event)'}`);
  }
  return { onInit, elsewhere };
}
