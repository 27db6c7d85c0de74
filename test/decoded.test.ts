/**
 * Decoded traces kept between evaluations (src/evaluators/decoded.ts): by the workload object for one evaluator,
 * by key for every evaluator of the process, within DECODED_CACHE_BYTES in all.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DECODED_CACHE_BYTES, decodedOnce, decodedStats } from '../src/evaluators/decoded.js';
import type { WorkloadRef } from '../src/evaluators/types.js';
import { emptyMeta, Op, sourceFromBatches, TraceBuilder, type TraceBatch, type TraceSource } from '../src/trace/model.js';

/** A trace of `n` 4 KiB reads. */
function trace(n: number): TraceBatch {
  const b = new TraceBuilder({ initialCapacity: n });
  for (let i = 0; i < n; i++) b.push(i * 1000, i * 8, 4096, Op.READ);
  return b.take();
}

/** A workload whose every open decodes `batch` again (counted by decodedStats.streams when decodedOnce opens it). */
function ref(name: string, batch: TraceBatch, key?: string): WorkloadRef {
  return { name, open: async () => sourceFromBatches(emptyMeta(name, 'test'), [batch]), ...(key !== undefined ? { key } : {}) };
}

async function requests(s: TraceSource): Promise<number> {
  let n = 0;
  for await (const b of s) n += b.length;
  return n;
}

/** Streams decodedOnce opened while `fn` ran. */
async function streamsOf(fn: () => Promise<void>): Promise<number> {
  const before = decodedStats.streams;
  await fn();
  return decodedStats.streams - before;
}

test('evaluators of one process share the decoding of a keyed workload; an unkeyed one is kept per evaluator', async () => {
  const small = trace(1000);
  // A fleet worker: a new evaluator (its own decodedOnce) and a new ref per evaluation job, the same key.
  assert.equal(
    await streamsOf(async () => {
      for (let job = 0; job < 3; job++) assert.equal(await requests(await decodedOnce()(ref('t', small, 'digest-a auto'))), 1000);
    }),
    1,
  );
  // Without a key nothing is shared between evaluators, and one evaluator keeps its workload.
  assert.equal(
    await streamsOf(async () => {
      for (let job = 0; job < 3; job++) await requests(await decodedOnce()(ref('t', small)));
    }),
    3,
  );
  const one = decodedOnce();
  const w = ref('t', small);
  assert.equal(
    await streamsOf(async () => {
      for (let i = 0; i < 3; i++) await requests(await one(w));
    }),
    1,
  );
  // A stream left before its end keeps nothing.
  assert.equal(
    await streamsOf(async () => {
      for await (const _ of await decodedOnce()(ref('t', small, 'digest-left auto'))) break;
      await requests(await decodedOnce()(ref('t', small, 'digest-left auto')));
    }),
    2,
  );
});

test('the shared store holds DECODED_CACHE_BYTES in all: the least recently used workload goes first, a larger one is streamed every time', async () => {
  const probe = trace(1000);
  const perRequest =
    [probe.timeNs, probe.sector, probe.bytes, probe.op, probe.device, probe.pid, probe.issueNs, probe.completeNs].reduce(
      (s, c) => s + (c?.byteLength ?? 0),
      0,
    ) / 1000;
  const n = Math.floor((0.4 * DECODED_CACHE_BYTES) / perRequest); // two fit in the budget, three do not
  const [a, b, c] = [trace(n), trace(n), trace(n)];
  const open = (key: string, batch: TraceBatch) => decodedOnce()(ref(key, batch, key));
  assert.equal(
    await streamsOf(async () => {
      for (const [k, t] of [
        ['lru-a', a],
        ['lru-b', b],
      ] as const)
        await requests(await open(k, t!));
      await requests(await open('lru-a', a!)); // a is now the most recently used
      await requests(await open('lru-c', c!)); // over the budget: b goes, not a
    }),
    3,
  );
  assert.equal(await streamsOf(async () => void (await requests(await open('lru-a', a!)))), 0, 'a stayed');
  assert.equal(await streamsOf(async () => void (await requests(await open('lru-c', c!)))), 0, 'c stayed');
  assert.equal(await streamsOf(async () => void (await requests(await open('lru-b', b!)))), 1, 'b was evicted');
  // A trace larger than the whole budget is never kept, and keeps the others.
  const big = trace(Math.ceil((1.1 * DECODED_CACHE_BYTES) / perRequest));
  assert.equal(
    await streamsOf(async () => {
      for (let i = 0; i < 2; i++) assert.equal(await requests(await open('lru-big', big)), big.length);
    }),
    2,
  );
  assert.equal(await streamsOf(async () => void (await requests(await open('lru-b', b!)))), 0, 'b, decoded last, stayed');
});
