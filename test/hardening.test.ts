/**
 * Issue 15, the server and CLI side: each defect reproduced as its attacker
 * or careless operator would, against the real CLI, server and ConfDB.
 * Token files (item 4), coded errors instead of stack traces (item 13: serve
 * on a port in use, collect -o /proc/..., ENOSPC while writing a capture, a
 * damaged .ldb file), the collect timer overflow (item 12), job submission
 * atomic and bounded, the retry limit and SIGTERM (items 5 and 10).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { loadSettings } from '../src/config.js';
import { ConfDB } from '../src/confdb/db.js';
import { newId } from '../src/confdb/ids.js';
import type { JobRecord } from '../src/confdb/records.js';
import { isSsdtuneError } from '../src/errors.js';
import { PROJECT_ROOT } from '../src/native.js';
import { openService } from '../src/service/context.js';
import { jobHandlers } from '../src/service/handlers.js';
import { startServer } from '../src/api/server.js';
import { tokenPath } from '../src/api/token.js';
import { longTimeout } from '../src/util/long-timer.js';
import { writeBlktrace } from '../src/writers/blktrace.js';
import { writeMqsim } from '../src/writers/mqsim.js';
import { emptyMeta, Op, sourceFromBatches, TraceBuilder } from '../src/trace/model.js';

const CLI = path.join(PROJECT_ROOT, 'dist', 'src', 'cli', 'main.js');
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

function tmp(name: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `ssdtune-${name}-`));
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
}

/** Start `ssdtune serve` and resolve once it has printed its address. */
async function serve(dataDir: string, extra: string[] = []): Promise<{ child: ChildProcess; url: string; stderr: () => string; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> }> {
  const child = spawn(process.execPath, [CLI, 'serve', '--data-dir', dataDir, '--port', '0', ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /serving (http:\/\/\S+)/.exec(err);
      if (m) resolve(m[1]!);
    });
    void exited.then(() => reject(new Error(`serve exited: ${err}`)));
  });
  return { child, url, stderr: () => err, exited };
}

// ---- item 4: token files ---------------------------------------------------

test('the server refuses to start with an empty, blank or malformed token file, and never quotes it', () => {
  for (const [content, why] of [
    ['', /it is empty/],
    ['\n', /it is empty/],
    ['   \t \n', /only whitespace/],
    ['\u00a0\n', /only whitespace/],
    ['short-token\n', /11 characters, fewer than 32/],
    ['a'.repeat(40) + ' b\n', /spaces, control characters or non-ASCII/],
  ] as const) {
    const dir = tmp('token');
    try {
      writeFileSync(tokenPath(dir), content, { mode: 0o600 });
      const r = cli(['serve', '--data-dir', dir, '--port', '0']);
      assert.equal(r.status, 5, `${JSON.stringify(content)}: ${r.stderr}`);
      assert.match(r.stderr, why);
      assert.match(r.stderr, /not a usable API token.*\[SSDTUNE_TOKEN\]/);
      if (content.trim()) assert.ok(!r.stderr.includes(content.trim()), 'the file content is not echoed');
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('the token is compared byte for byte: no trimming lets U+00A0 or a near miss in', async () => {
  const dir = tmp('token-exact');
  const svc = await openService(loadSettings({ dataDir: dir, port: 0 }), jobHandlers);
  const { app, url } = await startServer(svc);
  try {
    const token = readFileSync(tokenPath(dir), 'utf8').replace(/\n$/, '');
    const post = (auth?: string) => fetch(`${url}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json', ...(auth !== undefined ? { authorization: auth } : {}) }, body: '{}' });
    for (const auth of [undefined, 'Bearer \xa0', 'Bearer', `Bearer ${token}\xa0`, `Bearer  ${token}`, `bearer ${token}`, `Bearer ${token.slice(0, -1)}`, `Bearer ${token}x`]) {
      const r = await post(auth);
      assert.equal(r.status, 401, `${JSON.stringify(auth)} must not pass`);
      assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'SSDTUNE_UNAUTHORIZED');
    }
    const ok = await post(`Bearer ${token}`);
    assert.equal(ok.status, 400, 'the right token passes auth (and the empty body is then refused)');
  } finally {
    await app.close();
    await svc.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- item 13: coded errors, never a stack trace ----------------------------

test('serve on a port in use: a coded error saying what to do', async () => {
  const dir = tmp('port');
  const blocker: Server = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  try {
    const port = (blocker.address() as { port: number }).port;
    const r = cli(['serve', '--data-dir', dir, '--port', String(port)]);
    assert.equal(r.status, 7, r.stderr);
    assert.match(r.stderr, new RegExp(`cannot serve on 127\\.0\\.0\\.1:${port}: the port is in use .*--port 0.*\\[SSDTUNE_SERVE_LISTEN\\]`));
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    assert.ok(!existsSync(path.join(dir, 'server.json')), 'no server advertised');
  } finally {
    blocker.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a damaged .ldb file: SSDTUNE_CONFDB_CORRUPT with what to do, never a stack trace or a native crash', async () => {
  // Three damage patterns: bytes flipped every 64, 97 and 131 bytes through the table file (dense enough
  // to hit every record: LevelDB reads without checksums, so a sparse flip can go unnoticed in padding).
  let detected = 0;
  for (const stride of [64, 97, 131]) {
    const dir = tmp('ldb');
    try {
      const db = await ConfDB.open(dir);
      const at = new Date().toISOString();
      for (let i = 0; i < 200; i++) await db.put('audit', { id: newId(), at, actor: 'test', action: 'fill', details: { i, pad: 'x'.repeat(200) } });
      await db.compact();
      await db.close();
      const ldb = readdirSync(path.join(dir, 'confdb')).filter((f) => f.endsWith('.ldb'));
      assert.ok(ldb.length >= 1, 'compaction wrote a table file');
      const file = path.join(dir, 'confdb', ldb[0]!);
      const bytes = readFileSync(file);
      for (let i = 100; i < bytes.length - 100; i += stride) bytes[i]! ^= 0xff;
      writeFileSync(file, bytes);
      const r = cli(['db', 'list', 'audit', '--data-dir', dir]);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      // LevelDB reads without verifying checksums, so a flip can go unnoticed (status 0); noticed, it is coded.
      if (r.status === 0) continue;
      detected++;
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /the ConfDB at .*confdb is damaged \(.*\): move it aside and restore .*db import.*\[SSDTUNE_CONFDB_CORRUPT\]/);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  assert.ok(detected >= 1, 'the damage was noticed at least once');
});

test('collect -o under /proc (or any unwritable place) fails before the capture, with a coded error', () => {
  for (const out of ['/proc/ssdtune-capture', '/sys/ssdtune-capture', '/nonexistent-dir/capture']) {
    for (const format of ['blktrace', 'mqsim']) {
      const r = cli(['collect', '--device', '/dev/null', '--duration', '1s', '--format', format, '-o', out]);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`cannot write ${out.replace(/\//g, '\\/')}.*: E[A-Z]+: .*\\[SSDTUNE_TRACE_WRITE\\]`));
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
  }
});

test('ENOSPC while writing a capture: a coded error and no partial file, under any name', { skip: isRoot ? undefined : 'mounting a small tmpfs needs root' }, async (t) => {
  const mnt = tmp('enospc');
  try {
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mnt], { stdio: 'ignore' });
    } catch {
      t.skip('mount is not permitted here');
      return;
    }
    // 20,000 requests: far more than 256 KiB in either format.
    const make = () => {
      const b = new TraceBuilder();
      for (let i = 0; i < 20_000; i++) b.push(i * 1000, i * 8, 4096, i % 3 ? Op.READ : Op.WRITE);
      return sourceFromBatches(emptyMeta('synthetic', 'synthetic'), [b.take()]);
    };
    await assert.rejects(writeBlktrace(make(), path.join(mnt, 'cap')), (e) => isSsdtuneError(e, 'SSDTUNE_TRACE_WRITE') && /cap\.blktrace\.\d: no space left/.test((e as Error).message));
    await assert.rejects(writeMqsim(make(), path.join(mnt, 'cap.mqsim')), (e) => isSsdtuneError(e, 'SSDTUNE_TRACE_WRITE') && /no space left/.test((e as Error).message));
    assert.deepEqual(readdirSync(mnt), [], 'nothing left behind');
  } finally {
    spawnSync('umount', [mnt]);
    rmSync(mnt, { recursive: true, force: true });
  }
});

// ---- item 12: collect --duration 600h -----------------------------------------

test('timers beyond 2^31-1 ms wait (600h is not "now"); durations beyond a year are refused', async () => {
  let fired = 0;
  const long = longTimeout(() => fired++, 600 * 3600 * 1000);
  const short = longTimeout(() => fired++, 10);
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(fired, 1, 'the 10 ms timer fired, the 600 h one did not');
  long.cancel();
  short.cancel();
  const r = cli(['collect', '--device', '/dev/null', '--duration', '9000h', '-o', path.join(os.tmpdir(), 'x')]);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /longer than a year.*\[SSDTUNE_USAGE\]/);
});

// ---- items 5 and 10: jobs ----------------------------------------------------

test('20 identical concurrent submissions make one job; the queue is bounded (429 beyond)', async () => {
  const dir = tmp('jobs');
  const svc = await openService(loadSettings({ dataDir: dir, port: 0, maxQueuedJobs: 5 }), jobHandlers);
  const { app, url } = await startServer(svc);
  try {
    const token = readFileSync(tokenPath(dir), 'utf8').trim();
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const up = await fetch(`${url}/v1/traces/register`, { method: 'POST', headers, body: JSON.stringify({ path: path.join(PROJECT_ROOT, 'traces', 'msr_hm_0_sample1000.csv') }) });
    const trace = (await up.json()) as { id: string };
    assert.equal(up.status, 200, JSON.stringify(trace));
    // Hold the runner so submissions stay queued: the first job runs, the rest wait.
    const submit = (budget: number) => fetch(`${url}/v1/jobs`, { method: 'POST', headers, body: JSON.stringify({ traceId: trace.id, budget }) });
    const same = await Promise.all(Array.from({ length: 20 }, () => submit(2000)));
    const ids = new Set<string>();
    for (const r of same) {
      assert.equal(r.status, 202);
      ids.add(((await r.json()) as { job: JobRecord }).job.id);
    }
    assert.equal(ids.size, 1, `one job for 20 identical submissions, got ${ids.size}`);
    const codes: number[] = [];
    for (let b = 2001; b < 2012; b++) {
      const r = await submit(b);
      codes.push(r.status);
      if (r.status === 429) assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'SSDTUNE_QUEUE_FULL');
      else await r.body?.cancel();
    }
    assert.ok(codes.includes(429), `the sixth waiting job is refused: ${codes.join(' ')}`);
    const queued = (await svc.db.jobsWithStatus(['queued'])).length;
    assert.ok(queued <= 5, `at most 5 waiting, ${queued}`);
  } finally {
    await app.close();
    await svc.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a job interrupted by kill -9 three times is failed, not resumed a fourth time', { timeout: 120_000 }, async () => {
  const dir = tmp('retry');
  try {
    const trace = path.join(PROJECT_ROOT, 'traces', 'msr_hm_0_sample1000.csv');
    let jobId = '';
    for (let round = 1; round <= 4; round++) {
      const s = await serve(dir);
      try {
        const token = readFileSync(tokenPath(dir), 'utf8').trim();
        const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
        if (round === 1) {
          const rec = (await (await fetch(`${s.url}/v1/traces/register`, { method: 'POST', headers, body: JSON.stringify({ path: trace }) })).json()) as { id: string };
          jobId = ((await (await fetch(`${s.url}/v1/jobs`, { method: 'POST', headers, body: JSON.stringify({ traceId: rec.id, budget: 5000 }) })).json()) as { job: JobRecord }).job.id;
        }
        // Wait until this start runs it (resumed after the previous kill), or has given up on it.
        let job: JobRecord | undefined;
        for (let i = 0; i < 200; i++) {
          job = (await (await fetch(`${s.url}/v1/jobs/${jobId}`)).json()) as JobRecord;
          if (job.status === 'running' || job.status === 'failed') break;
          await new Promise((r) => setTimeout(r, 100));
        }
        if (round <= 3) {
          assert.equal(job?.status, 'running', `round ${round}: ${JSON.stringify(job)}`);
          assert.equal(job?.attempts, round);
        } else {
          assert.equal(job?.status, 'failed', `round 4: ${JSON.stringify(job)}`);
          assert.match(job!.error!, /interrupted 3 times \(limit 3\); not resumed again automatically/);
        }
      } finally {
        s.child.kill('SIGKILL');
        await s.exited;
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SIGTERM stops the server within seconds while a job runs; the job resumes at the next start', { timeout: 60_000 }, async () => {
  const dir = tmp('sigterm');
  try {
    const s = await serve(dir);
    const token = readFileSync(tokenPath(dir), 'utf8').trim();
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const rec = (await (await fetch(`${s.url}/v1/traces/register`, { method: 'POST', headers, body: JSON.stringify({ path: path.join(PROJECT_ROOT, 'traces', 'msr_hm_0_sample1000.csv') }) })).json()) as { id: string };
    const { job } = (await (await fetch(`${s.url}/v1/jobs`, { method: 'POST', headers, body: JSON.stringify({ traceId: rec.id, budget: 5000 }) })).json()) as { job: JobRecord };
    for (let i = 0; i < 100; i++) {
      if (((await (await fetch(`${s.url}/v1/jobs/${job.id}`)).json()) as JobRecord).status === 'running') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const t0 = Date.now();
    s.child.kill('SIGTERM');
    const ended = await s.exited;
    const ms = Date.now() - t0;
    assert.ok(ms < 7000, `stopped in ${ms} ms`);
    assert.ok(ended.code === 0 || ended.code === 1, `exit ${JSON.stringify(ended)}: ${s.stderr()}`);
    const db = await ConfDB.open(dir);
    try {
      const j = await db.require('jobs', job.id);
      assert.equal(j.status, ended.code === 0 ? 'interrupted' : 'running', 'stopped cleanly: interrupted; cut off: found interrupted at the next start');
      assert.equal(j.attempts ?? 0, ended.code === 0 ? 0 : 1, 'a shutdown is not counted against the retry limit');
    } finally {
      await db.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
