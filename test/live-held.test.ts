/**
 * What a live trial holds is shown to the user: the kernel changes an attribute nobody chose when one a configuration
 * names is written (Linux 6.18: under mq-deadline, writing nr_requests sets async_depth), ssdtune holds it at its
 * earlier value for the measurement, and every report of the measurement says so: the evaluator's metrics, the
 * search's and the ConfDB's evaluation records, the progress line and the tune's output. On a loop device this test
 * creates (root only), with the coupling probed through sysfs first.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { Writable } from 'node:stream';
import { canUseLoopDevices } from '../src/blockdev/loop.js';
import { resolveDevice } from '../src/blockdev/resolve.js';
import { parseScheduler, readSnapshot } from '../src/blockdev/sysfs.js';
import { LiveEvaluator } from '../src/evaluators/live/live-evaluator.js';
import { patternWorkload } from '../src/evaluators/readahead/workloads.js';
import { MemoryStateStore } from '../src/host/state.js';
import { makeSearcher, runSearch } from '../src/search/search.js';
import { defineSpace } from '../src/space/space.js';
import { parseProgressText, progressText } from '../src/service/progress-text.js';
import { evaluationRecords, searchHolds } from '../src/service/tune.js';
import { heldText } from '../src/cli/commands/tune.js';
import { progressLog } from '../src/cli/progress.js';
import { loopWithoutScheduler } from './helpers/loop.js';

const skip = canUseLoopDevices();

test(
  "a live trial's held attributes are in its metrics, the evaluation records, the progress line and the tune output",
  { skip: skip ?? false, timeout: 120_000 },
  async (t) => {
    const loop = loopWithoutScheduler(32 << 20);
    try {
      const dev = resolveDevice(loop.path);
      const queue = `/sys/block/${loop.name}/queue`;
      if (!parseScheduler(readFileSync(`${queue}/scheduler`, 'utf8')).available.includes('mq-deadline')) {
        t.skip('this kernel offers no mq-deadline');
        return;
      }
      // Through sysfs, not ssdtune: mq-deadline at depth 64 with an async_depth of 16, then does writing nr_requests
      // change async_depth? (Linux 6.18: it sets it to the new depth.) loop.destroy() gives every attribute back.
      writeFileSync(`${queue}/scheduler`, 'mq-deadline');
      writeFileSync(`${queue}/nr_requests`, '64');
      writeFileSync(`${queue}/iosched/async_depth`, '16');
      writeFileSync(`${queue}/nr_requests`, '32');
      const follows = readFileSync(`${queue}/iosched/async_depth`, 'utf8').trim();
      writeFileSync(`${queue}/nr_requests`, '64');
      writeFileSync(`${queue}/iosched/async_depth`, '16');
      if (follows === '16') {
        t.skip(`this kernel (${os.release()}) leaves mq-deadline's async_depth alone when nr_requests is written: nothing to hold`);
        return;
      }
      const before = readSnapshot(dev);
      const hold = { key: 'iosched.async_depth', from: '16', to: follows, by: 'nr_requests=32' };

      // The evaluator: a trial of nr_requests alone holds async_depth, and its metrics say so. Before, they did not.
      const evaluator = new LiveEvaluator({ device: loop.path, store: new MemoryStateStore(), mode: 'closed', queueDepth: 1, repetitions: 1 });
      const workload = patternWorkload('seq', { pattern: 'sequential', count: 200, requestBytes: 4096, spanBytes: 8 << 20 });
      const m = await evaluator.evaluate({ nr_requests: 32 }, workload);
      assert.deepEqual(m.held, [hold]);
      assert.deepEqual(readSnapshot(dev), before, 'the trial gave everything back');
      // A trial that writes nothing holds nothing, and its metrics carry no field for it.
      assert.equal((await evaluator.evaluate({ nr_requests: 64 }, workload)).held, undefined);

      // A search over nr_requests: the baseline (64, nothing written) and 32 (async_depth held).
      const space = defineSpace({ name: 'host', params: [{ name: 'nr_requests', kind: 'ordinal', values: [32, 64], default: 64 }] });
      const lines: string[] = [];
      const log = progressLog(
        'tune',
        new Writable({
          write(chunk, _enc, done) {
            lines.push(String(chunk));
            done();
          },
        }) as unknown as NodeJS.WriteStream,
        60_000,
      );
      const record = await runSearch(makeSearcher('grid'), {
        space,
        evaluator,
        workload,
        budget: { evaluations: 2 },
        onEvent: (e) => {
          if (e.type !== 'evaluation') return;
          // As the tune reports an evaluation (service/tune.ts), and the CLI's log draws it.
          const message = progressText('search', e.count, 2, e.best?.grade, e.evaluation.metrics?.held);
          log.update(e.count, 2, parseProgressText(message));
        },
      });
      assert.deepEqual(
        record.evaluations.map((e) => [e.config.nr_requests, e.metrics?.held]),
        [
          [64, undefined],
          [32, [hold]],
        ],
      );
      // The ConfDB's evaluation records keep the metrics whole.
      const stored = evaluationRecords(record, { workloadId: 'w', configId: 'c', bestIndex: 1 });
      assert.deepEqual(stored[1]!.metrics?.held, [hold]);
      // The progress log writes the held evaluation's line at once, whatever its rate limit (one a minute here).
      assert.equal(lines.length, 2, lines.join(''));
      assert.match(
        lines[1]!,
        new RegExp(`^tune: search 2/2 evaluations, .*; held iosched\\.async_depth at 16 \\(writing nr_requests=32 made it ${follows}\\)\\n$`),
      );
      assert.doesNotMatch(lines[0]!, /held/);
      // The tune's result and output: each hold with the evaluations it happened in, and the recommended configuration's.
      const held = searchHolds([record]);
      assert.deepEqual(held, [{ ...hold, evaluations: 1 }]);
      const text = heldText({ search: { held }, config: { metrics: m } });
      assert.equal(text.length, 3, text.join('\n'));
      assert.match(text[1]!, new RegExp(`^ +iosched\\.async_depth at 16 \\(writing nr_requests=32 made it ${follows}\\), in 1 evaluation$`));
      assert.match(text[2]!, /the recommended configuration was measured with: iosched\.async_depth at 16/);
      assert.deepEqual(readSnapshot(dev), before);
    } finally {
      loop.destroy();
    }
  },
);
