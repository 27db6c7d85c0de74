/**
 * Valid but degenerate workloads through the real CLI and a real server: each finishes with a sound result or fails
 * with a coded error that names the file and what was expected.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadSettings } from '../src/config.js';
import { openService } from '../src/service/context.js';
import { jobHandlers } from '../src/service/handlers.js';
import { startServer } from '../src/api/server.js';
import { tokenPath } from '../src/service/token.js';
import { tempDir } from '../src/util/temp-dir.js';

const CLI = path.resolve('dist/src/cli/main.js');
/** A Windows FILETIME in 2007, as MSR Cambridge's traces start. */
const T0 = 128166385295514663n;

/** An MSR Cambridge CSV of `n` requests 1 ms apart, each `row(i)`'s type and size at a 4 KiB-aligned offset. */
function msrTrace(dir: string, name: string, n: number, row: (i: number) => { op: 'Read' | 'Write'; bytes: number }): string {
  const lines = Array.from({ length: n }, (_, i) => {
    const { op, bytes } = row(i);
    return `${T0 + BigInt(i) * 10_000n},hm,0,${op},${((i * 7919) % 100_000) * 4096},${bytes},100`;
  });
  const file = path.join(dir, name);
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('a trace of zero-size requests only is refused before any search, by the CLI and the REST API, naming what was passed over', async () => {
  const dir = tempDir('ssdtune-degenerate-');
  // Flushes recorded as zero-size writes (and reads): two full windows, nothing an evaluator could time.
  const zero = msrTrace(dir, 'zero.csv', 200, (i) => ({ op: i % 3 ? 'Write' : 'Read', bytes: 0 }));
  for (const space of ['ssd', 'host']) {
    const r = cli(['tune', '--json', '--space', space, '--budget', '3', '--progress', 'none', '--data-dir', path.join(dir, `dd-${space}`), zero]);
    assert.equal(r.status, 3, r.stderr);
    const err = (JSON.parse(r.stderr) as { error: { code: string; message: string } }).error;
    // Before: SSDTUNE_SEARCH "the baseline configuration could not be evaluated ... latencyMeanUs is 0".
    assert.equal(err.code, 'SSDTUNE_TRACE_UNTIMED', err.message);
    assert.ok(err.message.includes(zero), err.message);
    assert.match(
      err.message,
      /none of its 200 requests is a read or write that moves data; passed over: 200 zero-size reads or writes \(the first is request 0\)/,
    );
  }

  const dataDir = path.join(dir, 'dd-api');
  const svc = await openService(loadSettings({ dataDir, port: 0 }), jobHandlers);
  const { app, url } = await startServer(svc);
  try {
    const token = readFileSync(tokenPath(dataDir), 'utf8').trim();
    const call = async (method: string, route: string, body?: Buffer | object): Promise<{ status: number; json: Record<string, unknown> }> => {
      const r = await fetch(url + route, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body ? { 'content-type': Buffer.isBuffer(body) ? 'application/octet-stream' : 'application/json' } : {}),
        },
        ...(body ? { body: Buffer.isBuffer(body) ? body : JSON.stringify(body) } : {}),
      });
      return { status: r.status, json: (await r.json()) as Record<string, unknown> };
    };
    const up = await call('POST', '/v1/traces?name=zero.csv', readFileSync(zero));
    assert.equal(up.status, 201, JSON.stringify(up.json));
    const submitted = await call('POST', '/v1/jobs', { traceId: up.json.id, budget: 3 });
    assert.equal(submitted.status, 202, JSON.stringify(submitted.json));
    const jobId = (submitted.json.job as { id: string }).id;
    let job: { status: string; error?: string; errorCode?: string } = { status: 'queued' };
    for (let i = 0; i < 600 && (job.status === 'queued' || job.status === 'running'); i++) {
      await new Promise((r) => setTimeout(r, 100));
      job = (await call('GET', `/v1/jobs/${jobId}`)).json as typeof job;
    }
    assert.equal(job.status, 'failed');
    assert.equal(job.errorCode, 'SSDTUNE_TRACE_UNTIMED', job.error);
    assert.match(job.error ?? '', /zero\.csv: no timed I\/O: none of its 200 requests/);
    // Nothing was stored for it: no workload, no configuration.
    assert.deepEqual((await call('GET', '/v1/workloads')).json.items, []);
  } finally {
    await app.close();
    await svc.close();
  }
});
