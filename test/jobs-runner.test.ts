/**
 * The in-process job runner (service/jobs.ts) on a real LevelDB ConfDB: what a finished job's record keeps.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { ConfDB } from '../src/confdb/db.js';
import { JobRunner } from '../src/service/jobs.js';
import { tempDir } from '../src/util/temp-dir.js';

test("a job's last checkpoint is kept when the run ends before its write landed (a resumed job would repeat evaluations)", async () => {
  const dir = tempDir('ssdtune-jobs-');
  const db = await ConfDB.open(dir);
  try {
    // As a tune reports a checkpoint after every evaluation without waiting for its write, and its last one
    // just before it returns.
    const runner = new JobRunner(db, {
      probe: async (job, ctl) => {
        for (let n = 1; n <= 3; n++) {
          ctl.progress(n, 3);
          void ctl.checkpoint({ evaluations: n });
        }
        if (job.params.fail) throw new Error('failed after its third evaluation');
        return { ok: true };
      },
    });
    // Done, and failed (which `jobs resume` runs again from its checkpoint).
    for (const [fail, status] of [
      [false, 'done'],
      [true, 'failed'],
    ] as const) {
      const { job } = await runner.submit('probe', `probe:${fail}`, { fail }, 'test');
      await runner.idle();
      const rec = (await db.get('jobs', job.id))!;
      assert.equal(rec.status, status);
      assert.deepEqual(rec.checkpoint, { evaluations: 3 });
      assert.deepEqual(rec.progress, { done: 3, total: 3 });
    }
    await runner.close();
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
