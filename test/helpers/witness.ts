/**
 * A tracefs instance beside an eBPF capture, recording block_rq_complete on one device with the thread
 * group that was current when it fired. The eBPF program misses a completion only where the kernel
 * skips it (its recursion guard, or PID 1 current on kernels that gate BPF there, as the VM kernels
 * here do), and tracefs events are not BPF: the witness tells which cause applied to each request a
 * capture lacks. Shared by the collector's library tests and its CLI test, so both account a miss the
 * same way (assertMissesAccounted).
 */
import { strict as assert } from 'node:assert';
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { LOST_INIT_TASK, LOST_RECURSION } from '../../src/collector/ebpf.js';
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
function completedUnderInit(seen: Map<string, number[]>, missing: Map<string, number>): { onInit: number; elsewhere: string[] } {
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

/** What a capture says it did not deliver: the collector's statistics, or `ssdtune collect`'s summary. */
export interface Unaccounted {
  lost: number;
  lostBy: Record<string, number>;
  unfinished: number;
  unpaired: number;
}

/**
 * A capture against fio's own log: every captured request is one fio issued, and every request of fio's
 * missing from the capture is accounted for by the capture's own statistics (lost with a cause, still in
 * flight at stop, or a completion without its issue), never silent. Requests are "op sector bytes" keys.
 *
 * fio has finished, so nothing is in flight: a missing request is a completion the capture did not see.
 * tracefs's only loss is a ring buffer overrun, counted by the kernel. eBPF (`ebpf` given): the kernel
 * skips a program for two reasons only, each checked here: its recursion guard (`recursionMisses`, the
 * kernel's count), and, on kernels that gate BPF on PID 1 (bpf_prog_aux.init_owned, the VM kernels
 * here), a completion softirq that landed while a PID 1 thread was current: the witness shows the tgid
 * each missing request completed under. No bound on how many: how often PID 1 runs is up to the host
 * (once 12 of 600 requests); any miss with neither cause fails. Returns how many were missing.
 */
export function assertMissesAccounted(
  issued: readonly string[],
  captured: readonly string[],
  s: Unaccounted,
  ebpf: { recursionMisses: number; witness?: Map<string, number[]> } | undefined,
  t?: TestContext,
): number {
  const want = new Map<string, number>();
  for (const k of issued) want.set(k, (want.get(k) ?? 0) + 1);
  for (const k of captured) {
    const n = want.get(k) ?? 0;
    assert.ok(n > 0, `captured ${k}, which fio did not issue (or not that often)`);
    want.set(k, n - 1);
  }
  let missing = 0;
  for (const n of want.values()) missing += n;
  const accounted = s.lost + s.unfinished + s.unpaired;
  assert.equal(missing, accounted, `${missing} of fio's ${issued.length} requests missing; the capture accounts for ${accounted}: ${JSON.stringify(s)}`);
  if (!ebpf) {
    for (const cause of Object.keys(s.lostBy)) assert.match(cause, /overrun/, `an unexpected cause of loss: ${JSON.stringify(s.lostBy)}`);
    return missing;
  }
  // eBPF: causes by name, then the witness's evidence request by request.
  for (const cause of Object.keys(s.lostBy))
    assert.ok(cause === LOST_RECURSION || cause === LOST_INIT_TASK, `an unexpected cause of loss: ${JSON.stringify(s.lostBy)}`);
  if (missing === 0 || !ebpf.witness) return missing;
  const { onInit, elsewhere } = completedUnderInit(ebpf.witness, want);
  assert.ok(
    missing - onInit <= ebpf.recursionMisses,
    `${missing - onInit} of ${missing} missing requests completed outside PID 1, beyond the ${ebpf.recursionMisses} recursion-guard skips: ${elsewhere.slice(0, 10).join('; ')}`,
  );
  t?.diagnostic(
    `${missing} of ${issued.length} requests missed and accounted (${JSON.stringify(s.lostBy)}, ${s.unfinished} unfinished, ${s.unpaired} unpaired); ${onInit} completed while PID 1 was current per tracefs`,
  );
  return missing;
}
