import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TraceBuilder, concatBatches, collect, sourceFromBatches, emptyMeta, Op, opString } from '../src/trace/model.js';
import { native } from '../src/native.js';
import { col } from '../src/util/at.js';

test('TraceBuilder grows past its initial capacity and keeps every column', () => {
  const b = new TraceBuilder({ initialCapacity: 16, timing: true });
  for (let i = 0; i < 1000; i++) b.push(i * 10, i * 8, 4096, i % 2 ? Op.READ : Op.WRITE, 7, 42, i * 10 + 3, i * 10 + 5);
  const batch = b.take();
  assert.equal(batch.length, 1000);
  assert.equal(batch.timeNs[999], 9990);
  assert.equal(batch.sector[500], 4000);
  assert.equal(batch.op[1], Op.READ);
  assert.equal(batch.completeNs![10], 105);
  assert.equal(b.length, 0);
});

test('concatBatches and collect join batches in order', async () => {
  const b = new TraceBuilder();
  b.push(1, 2, 512, Op.READ);
  const x = b.take();
  b.push(3, 4, 1024, Op.WRITE | Op.SYNC);
  const y = b.take();
  assert.equal(concatBatches([x, y]).length, 2);
  const all = await collect(sourceFromBatches(emptyMeta('mem', 'test'), [x, y]));
  assert.deepEqual([...all.timeNs], [1, 3]);
  assert.equal(all.issueNs, undefined);
  assert.equal(opString(col(all.op, 1)), 'WS');
});

test('the native addon loads', () => {
  assert.match(native().sourceStamp as string, /^[0-9a-f]{16}$/);
});
