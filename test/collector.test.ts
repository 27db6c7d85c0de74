/**
 * Live capture on a real loop device with real fio I/O, for every backend
 * that works here: the captured requests must be exactly the ones fio
 * issued (its iolog), with sizes, offsets and read/write mix. As root only;
 * otherwise skipped with the reason.
 */
import { strict as assert } from 'node:assert';
import { existsSync, readdirSync } from 'node:fs';
import { after, before, describe, it, type TestContext } from 'node:test';
import { openCollector, type BackendName } from '../src/collector/index.js';
import { LOST_INIT_TASK, LOST_RECURSION, LOST_UNSEEN, OrphanCauses } from '../src/collector/ebpf.js';
import { checkBackend } from '../src/collector/doctor.js';
import { LOCK_DIR } from '../src/blockdev/device-lock.js';
import { createLoop, haveTool, runFio, runFioAsync, type FioIo, type ScratchDevice } from '../src/collector/testbed.js';
import { tracefsRoot } from '../src/collector/tracefs.js';
import { concatBatches, Op, type TraceBatch, type TraceMeta } from '../src/trace/model.js';
import type { CollectorStats } from '../src/collector/types.js';
import { assertMissesAccounted, completionWitness } from './helpers/witness.js';

const isRoot = process.getuid?.() === 0;
const skipAll = !isRoot
  ? 'needs root (loop devices, eBPF, tracefs)'
  : !haveTool('fio')
    ? 'fio is not installed'
    : !haveTool('losetup')
      ? 'losetup is not installed'
      : undefined;

interface Captured {
  batch: TraceBatch;
  stats: CollectorStats;
  meta: TraceMeta;
  /** eBPF: the kernel's count of bt_complete runs its recursion guard skipped (every device). */
  recursionMisses?: number;
  /** eBPF: the tracefs witness's completions on the device, by "op sector": the tgid current at each. */
  witness?: Map<string, number[]>;
}

async function capture(loop: ScratchDevice, backend: BackendName, work: () => void, opts: { slotBits?: number; slotTable?: boolean } = {}): Promise<Captured> {
  const witness = backend === 'ebpf' ? completionWitness(loop.name) : undefined;
  try {
    const { collector } = await openCollector(loop.path, { backend, ...opts });
    const parts: TraceBatch[] = [];
    const reading = (async () => {
      for await (const b of collector) parts.push(b);
    })();
    try {
      work();
    } finally {
      await collector.stop();
    }
    await reading;
    return {
      batch: concatBatches(parts),
      stats: collector.stats(),
      meta: collector.meta,
      ...(backend === 'ebpf' ? { recursionMisses: nativeStats(collector).recursionMisses.complete } : {}),
      ...(witness ? { witness: witness.read() } : {}),
    };
  } finally {
    witness?.close();
  }
}

function nativeStats(collector: unknown): { submitted: number; delivered: number; recursionMisses: { complete: number } } {
  return (collector as { session: { stats(): { submitted: number; delivered: number; recursionMisses: { complete: number } } } }).session.stats();
}

function key(op: string, sector: number, bytes: number): string {
  return `${op} ${sector} ${bytes}`;
}

function fioKeys(ios: FioIo[]): string[] {
  return ios.map((io) => key(io.op, io.offset / 512, io.bytes)).sort();
}

function capturedKeys(b: TraceBatch): string[] {
  const out: string[] = [];
  for (let i = 0; i < b.length; i++) out.push(key(b.op[i]! & Op.WRITE ? 'write' : 'read', b.sector[i]!, b.bytes[i]!));
  return out.sort();
}

/** The capture against fio's own log (test/helpers/witness.ts says what is checked). */
function assertCapturedAsFio(c: Captured, ios: FioIo[], t?: TestContext): void {
  const ebpf = c.recursionMisses === undefined ? undefined : { recursionMisses: c.recursionMisses, ...(c.witness ? { witness: c.witness } : {}) };
  assertMissesAccounted(fioKeys(ios), capturedKeys(c.batch), c.stats, ebpf, t);
}

function checkTimes(b: TraceBatch): void {
  for (let i = 0; i < b.length; i++) {
    if (i > 0) assert.ok(b.timeNs[i]! >= b.timeNs[i - 1]!, `arrival times non-decreasing at row ${i}`);
    assert.ok(b.issueNs![i]! >= b.timeNs[i]!, `issue after queue at row ${i}`);
    assert.ok(b.completeNs![i]! > b.issueNs![i]!, `completion after issue at row ${i}`);
    assert.ok(b.completeNs![i]! - b.timeNs[i]! < 10e9, `latency below 10 s at row ${i}`);
  }
}

it('missed completions are split by cause as they are found: counts only grow and add up to the kernel count', () => {
  const causes = new OrphanCauses();
  const lost = new Map<string, number>();
  const sync = (orphaned: number, recursion: number, gate: boolean): void => {
    for (const [cause, n] of causes.next(orphaned, recursion, gate)) {
      assert.ok(n >= 0, `${cause}: ${n}`);
      lost.set(cause, (lost.get(cause) ?? 0) + n);
    }
  };
  sync(2, 0, true); // two misses, no recursion skip: PID 1
  sync(2, 5, true); // recursion skips of other devices after the fact move nothing
  sync(5, 5, true); // three more, with skips unused: the guard's
  sync(9, 6, true); // four more, three skips unused: three the guard's, one PID 1's
  assert.deepEqual(Object.fromEntries(lost), { [LOST_INIT_TASK]: 3, [LOST_RECURSION]: 6 });
  const plain = new OrphanCauses();
  assert.deepEqual(plain.next(3, 1, false), [
    [LOST_RECURSION, 1],
    [LOST_UNSEEN, 2],
  ]);
});

// The backend tests below skip where a backend cannot work. A program the verifier rejects is not
// such a place: where our object was built and the kernel has BTF, loading must succeed.
it('the eBPF program passes the verifier wherever it was built', { skip: !isRoot ? 'needs root' : undefined }, () => {
  const check = checkBackend('ebpf');
  if (check.works) return;
  assert.ok(!/BEGIN PROG LOAD LOG|verifier/i.test(check.reason), `the kernel's verifier rejected biotrace.bpf.o: ${check.reason.slice(0, 2000)}`);
});

describe('live collector on a loop device', { skip: skipAll }, () => {
  let loop: ScratchDevice;
  before(() => {
    loop = createLoop(64);
  });
  after(() => loop?.destroy());

  for (const backend of ['ebpf', 'tracefs'] as const) {
    describe(`backend ${backend}`, () => {
      const check = isRoot ? checkBackend(backend) : undefined;
      const skip = check && !check.works ? `${backend} does not work here: ${check.reason}` : undefined;

      it('captures 4 KiB random reads exactly as fio issued them', { skip }, async (t) => {
        let ios: FioIo[] = [];
        const c = await capture(loop, backend, () => {
          ios = runFio(loop.path, { rw: 'randread', bs: 4096, ios: 400 }).ios;
        });
        assert.equal(ios.length, 400);
        assertCapturedAsFio(c, ios, t);
        checkTimes(c.batch);
        assert.ok([...c.meta.processes.values()].includes('fio'), 'the issuing process is named');
      });

      it('captures 1 MiB sequential writes: every byte, in order, split only at queue limits', { skip }, async () => {
        let ios: FioIo[] = [];
        const c = await capture(loop, backend, () => {
          ios = runFio(loop.path, { rw: 'write', bs: 1 << 20, ios: 16, offset: 8 << 20 }).ios;
        });
        assert.equal(ios.length, 16);
        const b = c.batch;
        assert.ok(b.length >= 16, `at least one request per write (got ${b.length})`);
        // Sorted by sector, the requests tile [8 MiB, 24 MiB) with no gap or overlap.
        const ext = [...Array(b.length).keys()].map((i) => [b.sector[i]!, b.bytes[i]!, b.op[i]!] as const).sort((x, y) => x[0] - y[0]);
        let next = (8 << 20) / 512;
        for (const [s, n, op] of ext) {
          assert.ok(op & Op.WRITE, 'all writes');
          assert.equal(s, next, 'contiguous');
          assert.ok(n <= 1 << 20);
          next = s + n / 512;
        }
        assert.equal(next, (24 << 20) / 512);
        checkTimes(b);
      });

      it('captures a 70/30 random read/write mix with the exact mix', { skip }, async (t) => {
        let ios: FioIo[] = [];
        const c = await capture(loop, backend, () => {
          ios = runFio(loop.path, { rw: 'randrw', bs: 4096, ios: 600, rwmixread: 70 }).ios;
        });
        const reads = ios.filter((x) => x.op === 'read').length;
        assert.ok(reads > 300 && reads < 600, `fio mixed reads and writes (${reads} reads)`);
        assertCapturedAsFio(c, ios, t);
        let capReads = 0;
        for (let i = 0; i < c.batch.length; i++) if (c.batch.op[i]! & Op.READ) capReads++;
        const missingReads = reads - capReads;
        assert.ok(missingReads >= 0 && missingReads <= c.stats.lost + c.stats.unfinished + c.stats.unpaired, `${capReads} reads captured of fio's ${reads}`);
      });

      if (backend === 'ebpf') {
        it('with a one-slot in-flight table (every other request in the hash fallback) captures every request or reports the miss', { skip }, async (t) => {
          let ios: FioIo[] = [];
          const c = await capture(
            loop,
            backend,
            () => {
              ios = runFio(loop.path, { rw: 'randrw', bs: 4096, ios: 600, rwmixread: 70, iodepth: 16 }).ios;
            },
            { slotBits: 0 },
          );
          assertCapturedAsFio(c, ios, t);
          checkTimes(c.batch);
        });

        it('JS blocked for seconds during a capture: the reader holds back (bounded queue), loses nothing, and stop() returns', { skip }, async (t) => {
          const witness = completionWitness(loop.name);
          try {
            const { collector } = await openCollector(loop.path, { backend });
            const parts: TraceBatch[] = [];
            const reading = (async () => {
              for await (const b of collector) parts.push(b);
            })();
            // fio runs in its own process, 1000 I/Os a second for the 4 s
            const fio = runFioAsync(loop.path, { rw: 'randread', bs: 4096, ios: 4000, extra: ['--rate_iops=1000'] });
            // Block the event loop for 4 s: the poll thread makes a chunk every 50 ms, well past its 64-chunk bound.
            Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 4000);
            const ios = (await fio).ios;
            await collector.stop();
            await reading;
            const stats = collector.stats();
            // Nothing dropped for want of room while JS was blocked: the ring buffer's back-pressure held.
            assert.equal(stats.lostBy['ring buffer full'] ?? 0, 0, JSON.stringify(stats));
            // Everything the kernel program submitted reached JS, in bounded memory, and stop() returned.
            const native = nativeStats(collector);
            assert.equal(native.delivered, native.submitted);
            const batch = concatBatches(parts);
            assert.equal(batch.length, native.submitted);
            const seen = witness?.read();
            assertCapturedAsFio(
              { batch, stats, meta: collector.meta, recursionMisses: native.recursionMisses.complete, ...(seen ? { witness: seen } : {}) },
              ios,
              t,
            );
          } finally {
            witness?.close();
          }
        });

        it('without the slot table (the path of kernels without BPF cmpxchg, < 5.12) captures every request or reports the miss', { skip }, async (t) => {
          let ios: FioIo[] = [];
          const c = await capture(
            loop,
            backend,
            () => {
              ios = runFio(loop.path, { rw: 'randrw', bs: 4096, ios: 400, rwmixread: 70, iodepth: 16 }).ios;
            },
            { slotTable: false },
          );
          assertCapturedAsFio(c, ios, t);
          checkTimes(c.batch);
        });
      }

      it('leaves nothing behind: no tracefs instance, no lock file', { skip }, () => {
        const root = tracefsRoot();
        if (root)
          assert.deepEqual(
            readdirSync(`${root}/instances`).filter((n) => n.startsWith(`ssdtune-${process.pid}-`)),
            [],
          );
        assert.equal(existsSync(`${LOCK_DIR}/collect-7_${Number(loop.name.replace('loop', ''))}.lock`), false);
      });
    });
  }
});
