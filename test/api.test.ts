import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import type { FastifyInstance } from 'fastify';
import { loadSettings } from '../src/config.js';
import { openService, type Service } from '../src/service/context.js';
import { jobHandlers } from '../src/service/handlers.js';
import { startServer } from '../src/api/server.js';
import { tokenPath } from '../src/service/token.js';
import { InProcessApi } from '../src/service/api.js';
import { uploadDir } from '../src/service/traces.js';
import { isSsdtuneError } from '../src/errors.js';
import { tempDir } from '../src/util/temp-dir.js';
import { canUseLoopDevices } from '../src/blockdev/loop.js';
import { loopWithoutScheduler, maxSectorsCoupling } from './helpers/loop.js';
import { createLoop } from '../src/collector/testbed.js';
import { createLoopDevice } from '../src/blockdev/loop.js';

let svc: Service;
let app: FastifyInstance;
let url: string;
let token: string;

before(async () => {
  const dataDir = tempDir('ssdtune-api-');
  svc = await openService(loadSettings({ dataDir, port: 0, maxUploadBytes: 1 << 20 }), jobHandlers);
  ({ app, url } = await startServer(svc));
  token = readFileSync(tokenPath(dataDir), 'utf8').trim();
});
after(async () => {
  await app.close();
  await svc.close();
});

const call = (method: string, route: string, opts: { body?: unknown; raw?: Buffer; auth?: boolean; type?: string } = {}) =>
  fetch(url + route, {
    method,
    headers: {
      ...(opts.auth === false ? {} : { authorization: `Bearer ${token}` }),
      ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(opts.raw ? { 'content-type': opts.type ?? 'application/octet-stream' } : {}),
    },
    ...(opts.body !== undefined ? { body: typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body) } : {}),
    ...(opts.raw ? { body: opts.raw } : {}),
  });

test('the token file is created with mode 0600 and the server is on loopback', () => {
  assert.equal(statSync(tokenPath(svc.settings.dataDir)).mode & 0o777, 0o600);
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
});

test('health, metrics and the OpenAPI document answer without a token', async () => {
  const h = await call('GET', '/v1/health', { auth: false });
  assert.equal(h.status, 200);
  assert.equal(((await h.json()) as { status: string }).status, 'ok');
  const m = await call('GET', '/metrics', { auth: false });
  assert.match(await m.text(), /ssdtune_records\{kind="workloads"\} 0/);
  const d = await call('GET', '/docs/json', { auth: false });
  const doc = (await d.json()) as { paths: Record<string, unknown> };
  assert.ok(doc.paths['/v1/jobs'] && doc.paths['/v1/traces']);
});

test('every mutating route answers 401 without the token', async () => {
  for (const [method, route] of [
    ['POST', '/v1/traces'],
    ['POST', '/v1/jobs'],
    ['POST', '/v1/jobs/x/cancel'],
    ['POST', '/v1/jobs/x/resume'],
  ] as const) {
    const r = await call(method, route, { auth: false, body: {} });
    assert.equal(r.status, 401, `${method} ${route}`);
    assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'SSDTUNE_UNAUTHORIZED');
  }
  const wrong = await fetch(url + '/v1/jobs', { method: 'POST', headers: { authorization: 'Bearer nope', 'content-type': 'application/json' }, body: '{}' });
  assert.equal(wrong.status, 401);
});

/** POST `head` then `total` bytes of 'a' in 64 KiB chunks, chunked (no Content-Length: only counting can refuse it). */
function postChunked(route: string, type: string, head: Buffer, total: number): Promise<Response> {
  const chunk = Buffer.alloc(64 << 10, 0x61);
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(c) {
      if (sent === 0) c.enqueue(head);
      if (sent >= total) return c.close();
      sent += chunk.length;
      c.enqueue(chunk);
    },
  });
  return fetch(url + route, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': type },
    body,
    duplex: 'half',
  } as RequestInit);
}

test('uploading a real trace stores it with its sniffed format; 413 when too large; nothing left behind', async () => {
  const raw = readFileSync('traces/mqsim_wsrch-small.trace').subarray(0, 200_000);
  const cut = raw.subarray(0, raw.lastIndexOf(10) + 1);
  const r = await call('POST', '/v1/traces?name=wsrch.trace', { raw: cut });
  assert.equal(r.status, 201);
  const rec = (await r.json()) as { id: string; format: string; bytes: number };
  assert.equal(rec.format, 'mqsim');
  assert.equal(rec.bytes, cut.length);
  const got = (await (await call('GET', `/v1/traces/${rec.id}`)).json()) as { id: string };
  assert.equal(got.id, rec.id);

  const big = await call('POST', '/v1/traces?name=big', { raw: Buffer.alloc(2 << 20, 0x41) });
  assert.equal(big.status, 413);
  // Chunked, no declared length: the service counts it as it stores it, and removes what it stored.
  const streamed = await postChunked('/v1/traces?name=streamed', 'application/octet-stream', Buffer.alloc(0), 2 << 20);
  assert.equal(streamed.status, 413, await streamed.text());
  const list = (await (await call('GET', '/v1/traces')).json()) as { items: unknown[] };
  assert.equal(list.items.length, 1);
  assert.deepEqual(readdirSync(uploadDir(svc.settings.dataDir)), [`${rec.id}-wsrch.trace`], 'only the stored trace is left');

  const garbage = await call('POST', '/v1/traces?name=junk', { raw: Buffer.from('\x00\x01garbage that is no trace\n') });
  assert.equal(garbage.status, 400);
  assert.match(((await garbage.json()) as { error: { message: string } }).error.message, /cannot tell the trace format/);
});

test('a ConfDB import over the upload limit is a 413, declared or streamed (a line that never ends); nothing is stored', async () => {
  const before = ((await (await call('GET', '/v1/audit')).json()) as { items: unknown[] }).items.length;
  const header = Buffer.from('{"ssdtune-confdb":1,"schema":1}\n');
  // Declared: Content-Length says 2 MiB, refused before it is read.
  const declared = await call('POST', '/v1/import?name=big', { raw: Buffer.concat([header, Buffer.alloc(2 << 20, 0x61)]), type: 'application/x-ndjson' });
  assert.equal(declared.status, 413);
  // Streamed: chunked, no length, one line of 2 MiB without a newline: readline would hold all of it.
  const streamed = await postChunked('/v1/import?name=endless', 'application/x-ndjson', header, 2 << 20);
  assert.equal(streamed.status, 413, await streamed.text());
  const after = ((await (await call('GET', '/v1/audit')).json()) as { items: unknown[] }).items.length;
  assert.equal(after, before, 'no import was recorded');
  assert.equal((await call('GET', '/v1/health', { auth: false })).status, 200, 'the server keeps serving');
});

test('malformed JSON is a 400 with a message; unknown ids are 404; the server keeps serving', async () => {
  const bad = await call('POST', '/v1/jobs', { body: '{"traceId": ' });
  assert.equal(bad.status, 400);
  assert.ok(((await bad.json()) as { error: { message: string } }).error.message.length > 0);
  const invalid = await call('POST', '/v1/jobs', { body: { nope: 1 } });
  assert.equal(invalid.status, 400);
  for (const route of ['/v1/workloads/none', '/v1/configs/none', '/v1/jobs/none', '/v1/devices/none', '/v1/nothing']) {
    assert.equal((await call('GET', route)).status, 404, route);
  }
  assert.equal((await call('POST', '/v1/jobs', { body: { traceId: 'none' } })).status, 404);
  // A job that could only fail is refused at submission: unknown evaluator, an evaluator of another space,
  // live without a device, a budget below 2 (the CLI's rule; REST took 1).
  const raw = readFileSync('traces/msr_hm_0_sample1000.csv');
  const trace = (await (await call('POST', '/v1/traces?name=msr.csv', { raw })).json()) as { id: string };
  const jobsBefore = ((await (await call('GET', '/v1/jobs')).json()) as { items: unknown[] }).items.length;
  const refused: [Record<string, unknown>, RegExp][] = [
    [{ evaluator: 'nosuch' }, /evaluator must be equal to one of the allowed values/],
    [{ space: 'host', evaluator: 'ssdsim' }, /the ssdsim evaluator does not score the host space/],
    [{ space: 'host', evaluator: 'live' }, /^device: the live evaluator replays on a block device: name one/],
    [{ device: '/dev/null' }, /^device: the ssdsim evaluator works from the trace alone: a device does not apply to it/],
    [{ budget: 1 }, /budget must be >= 2/],
    // The field of the form the mode names (before: "replay must NOT have additional properties (speedup)").
    [{ replay: { mode: 'scaled', speedup: 0 } }, /replay\.speedup must be > 0/],
    [{ replay: { mode: 'closed', queueDepth: 100_000 } }, /replay\.queueDepth must be <= 65536/],
    [{ replay: { mode: 'fast' } }, /replay\.mode must be one of recorded, scaled, closed, got "fast"/],
    [{ replay: 'recorded' }, /replay must be object/],
  ];
  for (const [extra, re] of refused) {
    const body = { traceId: trace.id, ...extra };
    const r = await call('POST', '/v1/jobs', { body });
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.match(((await r.json()) as { error: { message: string } }).error.message, re);
  }
  assert.equal(((await (await call('GET', '/v1/jobs')).json()) as { items: unknown[] }).items.length, jobsBefore);
  assert.equal((await call('GET', '/v1/health')).status, 200);
});

test('a trace the sniffer cannot tell apart is registered, uploaded and identified with the format named', async () => {
  // A Heimdall MSR cut reads as MSNFS too (blocks instead of bytes): the sniffer refuses to guess and asks for --format.
  const cut = 'traces/heimdall_msr_cut_rw_40_60.1370.trace.xz';
  const api = new InProcessApi(svc, 'test');
  await assert.rejects(
    api.addTrace(cut),
    (e: unknown) => isSsdtuneError(e, 'SSDTUNE_TRACE_AMBIGUOUS_FORMAT') && /--format heimdall/.test((e as Error).message),
  );
  await assert.rejects(
    api.addTrace(cut, { format: 'nope' }),
    (e: unknown) => isSsdtuneError(e, 'SSDTUNE_USAGE') && /known: .*heimdall/.test((e as Error).message),
  );
  const rec = await api.addTrace(cut, { format: 'heimdall' });
  assert.equal(rec.format, 'heimdall');
  // The same file named as the other format is another trace record: it reads as other requests.
  const other = await api.addTrace(cut, { format: 'msnfs' });
  assert.notEqual(other.id, rec.id);
  assert.equal((await api.addTrace(cut, { format: 'heimdall' })).id, rec.id);
  // Identification reads it in the format it was registered with (10,000 requests, 156 windows of 64).
  const id = await api.identify(rec.id);
  assert.equal(id.requests, 10_000);
  assert.equal(id.identification.windows, 156);
  // Uploaded over REST with ?format=.
  const body = readFileSync(cut);
  const up = await call('POST', '/v1/traces?name=cut.trace.xz&format=heimdall', { raw: body });
  assert.equal(up.status, 201);
  assert.equal(((await up.json()) as { format: string }).format, 'heimdall');
  const refused = await call('POST', '/v1/traces?name=cut.trace.xz', { raw: body });
  assert.equal(refused.status, 400);
  assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'SSDTUNE_TRACE_AMBIGUOUS_FORMAT');
  // A tune job reads it in that format too: it sniffed again, and failed as ambiguous.
  const submitted = await call('POST', '/v1/jobs', { body: { traceId: rec.id, space: 'host', budget: 2 } });
  assert.equal(submitted.status, 202, await submitted.clone().text());
  const jobId = ((await submitted.json()) as { job: { id: string } }).job.id;
  let job: { status: string; error?: string } = { status: 'queued' };
  for (let i = 0; i < 600 && (job.status === 'queued' || job.status === 'running'); i++) {
    await new Promise((r) => setTimeout(r, 100));
    job = (await (await call('GET', `/v1/jobs/${jobId}`)).json()) as typeof job;
  }
  assert.equal(job.status, 'done', job.error);
  // A format forced on a file that does not read in it is refused at once, not when a tune reads it.
  const kept = readdirSync(uploadDir(svc.settings.dataDir));
  const wrong = await call('POST', '/v1/traces?name=msr.csv&format=blktrace', { raw: readFileSync('traces/msr_hm_0_sample1000.csv') });
  assert.equal(wrong.status, 400);
  const err = ((await wrong.json()) as { error: { code: string; message: string } }).error;
  assert.equal(err.code, 'SSDTUNE_TRACE_FORMAT');
  assert.match(err.message, /byte offset 0: blktrace magic/);
  assert.deepEqual(readdirSync(uploadDir(svc.settings.dataDir)), kept, 'nothing kept');
});

test('an apply over REST names what the kernel changed beside its write and was held', { skip: canUseLoopDevices() }, async (t) => {
  const loop = loopWithoutScheduler(32 << 20);
  try {
    const queue = `/sys/block/${loop.name}/queue`;
    const { kb, raised } = maxSectorsCoupling(queue);
    if (raised === undefined) {
      t.skip(`this kernel (${os.release()}) leaves read_ahead_kb alone when max_sectors_kb is written: nothing is held`);
      return;
    }
    writeFileSync(`${queue}/read_ahead_kb`, '8');
    const r = await call('POST', `/v1/devices/${loop.name}/apply`, { body: { values: { max_sectors_kb: kb } } });
    const out = (await r.json()) as { changes: { key: string }[]; held: unknown };
    assert.equal(r.status, 200, JSON.stringify(out));
    assert.deepEqual(
      out.changes.map((c) => c.key),
      ['max_sectors_kb'],
    );
    assert.deepEqual(out.held, [{ key: 'read_ahead_kb', from: '8', to: raised, by: `max_sectors_kb=${kb}` }]);
    assert.equal((await call('POST', `/v1/devices/${loop.name}/revert`, { body: {} })).status, 200);
    assert.equal(readFileSync(`${queue}/read_ahead_kb`, 'utf8').trim(), '8');
  } finally {
    loop.destroy();
  }
});

type ErrorBody = { statusCode: number; error: { code: string; message: string; field?: string } };
const jobCount = async () => ((await (await call('GET', '/v1/jobs?limit=10000')).json()) as { items: unknown[] }).items.length;

test('a live tune naming a device it could not replay on is refused at submission, coded, naming the field; nothing is queued', async (t) => {
  const csv = 'traces/msr_hm_0_sample1000.csv';
  const trace = (await (await call('POST', '/v1/traces?name=msr.csv', { raw: readFileSync(csv) })).json()) as { id: string };
  const live = { space: 'host', evaluator: 'live', budget: 2 };
  const refused = async (device: string, status: number, code: string, re: RegExp) => {
    const before = await jobCount();
    for (const [route, body] of [
      ['/v1/jobs', { traceId: trace.id, ...live, device }],
      [
        '/v1/tune',
        {
          trace: path.resolve(
            uploadDir(svc.settings.dataDir),
            readdirSync(uploadDir(svc.settings.dataDir)).find((n) => n.startsWith(trace.id))!,
          ),
          ...live,
          device,
        },
      ],
    ] as const) {
      const r = await call('POST', route, { body });
      const e = ((await r.json()) as ErrorBody).error;
      assert.equal(r.status, status, `${route} ${device}: ${e.message}`);
      assert.equal(e.code, code, `${route} ${device}`);
      assert.equal(e.field, 'device', `${route} ${device}`);
      assert.match(e.message, re, `${route} ${device}`);
      // Words for a REST caller: the field, never a command-line flag.
      assert.doesNotMatch(e.message, /--/, `${route} ${device}`);
    }
    assert.equal(await jobCount(), before, `${device}: nothing queued`);
  };
  await refused('/dev/null', 404, 'SSDTUNE_DEVICE', /^device: \/dev\/null: not a block device/);
  await refused('/nonexistent/disk', 404, 'SSDTUNE_DEVICE', /^device: \/nonexistent\/disk: no such device/);
  await refused(path.resolve(csv), 404, 'SSDTUNE_DEVICE', /^device: .*msr_hm_0_sample1000\.csv: not a block device/);
  const noLoops = canUseLoopDevices();
  if (noLoops) {
    t.diagnostic(`partitions and signatures not tried: ${noLoops}`);
    return;
  }
  // A disk of ours with a partition table, and its partition (the table is written into the backing file).
  const disk = createLoop(32, { partition: { start: 2048, sectors: 8192 } });
  try {
    await refused(
      disk.partitions![0]!,
      409,
      'SSDTUNE_HOST_UNSAFE',
      new RegExp(`^device: ${disk.partitions![0]}: is a partition of ${disk.name}; replay on the whole disk`),
    );
    await refused(
      disk.path,
      409,
      'SSDTUNE_HOST_UNSAFE',
      /^device: loop\d+: has a .* signature \(someone's data\); the live evaluator replays only on a device with no filesystem or partition table/,
    );
  } finally {
    disk.destroy();
  }
  // A blank disk of ours passes the same check: the request is queued (and cancelled: the check is what is tested).
  const blank = createLoopDevice({ sizeBytes: 8 << 20 });
  try {
    const r = await call('POST', '/v1/jobs', { body: { traceId: trace.id, ...live, device: blank.path } });
    const out = (await r.json()) as { job: { id: string } };
    assert.equal(r.status, 202, JSON.stringify(out));
    await call('POST', `/v1/jobs/${out.job.id}/cancel`, { body: {} });
    await new InProcessApi(svc, 'test').waitJob(out.job.id);
  } finally {
    blank.destroy();
  }
});

test('resuming a tune job whose trace file is gone is refused, coded, saying why; one whose record is gone too', async () => {
  const dir = tempDir('ssdtune-api-gone-');
  try {
    const file = path.join(dir, 'stdin');
    writeFileSync(file, readFileSync('traces/msr_hm_0_sample1000.csv'));
    const api = new InProcessApi(svc, 'test');
    const rec = await api.addTrace(file);
    // A job left failed, as a spooled standard input's was once its command ended (the spool removed).
    const { job } = await api.submitTune({ traceId: rec.id, space: 'host', budget: 2, seed: 77 });
    const done = await api.waitJob(job.id);
    await svc.db.put('jobs', { ...done, status: 'failed', error: 'interrupted' });
    rmSync(file);
    const r = await call('POST', `/v1/jobs/${job.id}/resume`, { body: {} });
    const e = ((await r.json()) as ErrorBody).error;
    assert.equal(r.status, 400, e.message);
    assert.equal(e.code, 'SSDTUNE_TRACE_OPEN');
    assert.match(
      e.message,
      new RegExp(`^trace ${rec.id} \\(stdin\\): its file .* is gone .*: job ${job.id} cannot be resumed; tune the trace again as a new job$`),
    );
    assert.equal((await svc.db.get('jobs', job.id))?.status, 'failed', 'not queued');
    await svc.db.batch([{ kind: 'traces', type: 'del', key: rec.id }]);
    const gone = await call('POST', `/v1/jobs/${job.id}/resume`, { body: {} });
    assert.equal(gone.status, 404);
    assert.match(((await gone.json()) as ErrorBody).error.message, /which was deleted: it cannot be resumed/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('POST /v1/identify of a trace that does not read names the trace, the line and what was expected, and quotes none of its bytes', async () => {
  // The server reads traces under traceDirs too: a file there whose line 501 does not parse.
  const dir = tempDir('ssdtune-api-tracedir-');
  const traceDirs = svc.settings.traceDirs;
  svc.settings.traceDirs = [dir];
  try {
    const lines = readFileSync('traces/msr_hm_0_sample1000.csv', 'utf8').split('\n');
    lines[500] = 'SECRET-hunter2,not,a,trace,line';
    const file = path.join(dir, 'broken.csv');
    writeFileSync(file, lines.join('\n'));
    const reg = await call('POST', '/v1/traces/register', { body: { path: file } });
    const rec = (await reg.json()) as { id: string };
    assert.equal(reg.status, 200, JSON.stringify(rec));
    const r = await call('POST', '/v1/identify', { body: { traceId: rec.id } });
    const e = ((await r.json()) as ErrorBody).error;
    assert.equal(r.status, 400);
    assert.equal(e.code, 'SSDTUNE_TRACE_FORMAT');
    assert.equal(e.message, `trace ${rec.id} (broken.csv): line 501: 7 comma-separated fields: Timestamp,Hostname,DiskNumber,Type,Offset,Size,ResponseTime`);
    // The file changed after it was registered: its first line is something else entirely.
    writeFileSync(file, 'SECRET first line of another file\n' + lines.slice(1).join('\n'));
    const r2 = await call('POST', '/v1/identify', { body: { traceId: rec.id } });
    const e2 = ((await r2.json()) as ErrorBody).error;
    assert.equal(r2.status, 400);
    assert.match(e2.message, new RegExp(`^trace ${rec.id} \\(broken\\.csv\\): line 1: `));
    assert.doesNotMatch(e2.message, /SECRET/);
    // The CLI's own service (not serving) still quotes the line for its user.
    const cli = await openService(loadSettings({ dataDir: tempDir('ssdtune-api-cli-') }), jobHandlers);
    try {
      const api = new InProcessApi(cli, 'cli');
      const local = await api.addTrace(path.resolve('traces/msr_hm_0_sample1000.csv'));
      await cli.db.put('traces', { ...local, path: file });
      await assert.rejects(
        api.identify(local.id),
        (x: unknown) =>
          isSsdtuneError(x, 'SSDTUNE_TRACE_FORMAT') &&
          (x as Error).message.startsWith(`${file}: line 1: `) &&
          /got "SECRET first line/.test((x as Error).message),
      );
    } finally {
      await cli.close();
      rmSync(cli.settings.dataDir, { recursive: true, force: true });
    }
  } finally {
    svc.settings.traceDirs = traceDirs;
    rmSync(dir, { recursive: true, force: true });
  }
});
