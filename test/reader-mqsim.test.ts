import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { openTrace } from '../src/readers/registry.js';
import { collect, Op } from '../src/trace/model.js';
import { isSsdtuneError } from '../src/errors.js';
import { tempDir } from '../src/util/temp-dir.js';
import { col } from '../src/util/at.js';

const TRACE = path.resolve('traces/mqsim_wsrch-small.trace');

test('MQSim reader: the real wsrch-small trace is sniffed and read exactly', async () => {
  const src = await openTrace(TRACE, { batchSize: 10000 });
  assert.equal(src.meta.format, 'mqsim');
  const t = await collect(src);
  assert.equal(t.length, 24783);
  // first line: "11413000 0 657728 16 1"
  assert.equal(t.timeNs[0], 0);
  assert.equal(t.sector[0], 657728);
  assert.equal(t.bytes[0], 16 * 512);
  assert.equal(t.op[0], Op.READ);
  let reads = 0;
  for (let i = 0; i < t.length; i++) if (col(t.op, i) & Op.READ) reads++;
  assert.ok(reads / t.length > 0.99);
});

test('MQSim reader: a bad line names the file, the line and what was expected', async () => {
  const dir = tempDir('ssdtune-');
  const f = path.join(dir, 'bad.trace');
  writeFileSync(f, '100 0 8 8 1\n200 0 16 8 0\n300 0 x 8 1\n');
  const src = await openTrace(f, { format: 'mqsim' });
  await assert.rejects(collect(src), (e: unknown) => {
    assert.ok(isSsdtuneError(e, 'SSDTUNE_TRACE_FORMAT'));
    assert.match((e as Error).message, /bad\.trace: line 3: start_sector/);
    return true;
  });
  const skipped = await openTrace(f, { format: 'mqsim', skipBad: true });
  const t = await collect(skipped);
  assert.equal(t.length, 2);
  assert.equal(skipped.meta.skippedRecords, 1);
});

test('openTrace: empty file, directory and missing path give clear errors', async () => {
  const dir = tempDir('ssdtune-');
  const empty = path.join(dir, 'empty');
  writeFileSync(empty, '');
  await assert.rejects(openTrace(empty), /empty: .*empty/);
  await assert.rejects(openTrace(dir), /is a directory/);
  await assert.rejects(openTrace(path.join(dir, 'nope')), /no such file/);
});
