/**
 * Every CLI command, run twice as a user would: once with the ConfDB opened in
 * the CLI's own process, once while a real `ssdtune serve` on loopback holds
 * it (the CLI then goes through the REST API). The two transcripts (exit
 * code, stdout, stderr of each command) must be identical once ids, times and
 * durations are masked: one service API, two implementations, one behaviour.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { canUseLoopDevices, createLoopDevice, type LoopDevice } from '../src/blockdev/loop.js';
import { checkBackend } from '../src/collector/doctor.js';
import { tempDir } from '../src/util/temp-dir.js';
import { killAtExit } from '../src/util/cleanup.js';
import { hostIdentity, type RecordingHost } from '../src/util/host-identity.js';

const CLI = path.resolve('dist/src/cli/main.js');
const WSRCH = path.resolve('traces/mqsim_wsrch-small.trace');
const MSR = path.resolve('traces/msr_hm_0_sample1000.csv');
const MSNFS = path.resolve('traces/msps_msnfs_30s.trace');
const ENV = { ...process.env, SSDTUNE_SIM_PRECONDITION: '0', SSDTUNE_SERVER: '' };

const noLoop = canUseLoopDevices();
const noCapture = noLoop ?? (!checkBackend('ebpf').works && !checkBackend('tracefs').works ? 'no live capture backend works here' : undefined);

interface Entry {
  cmd: string;
  status: number | null;
  stdout: string;
  stderr: string;
}

/** What legitimately differs between two runs: ids, times, durations, the data directory. */
function mask(s: string, dataDir: string): string {
  return (
    s
      .split(dataDir)
      .join('<data>')
      .replace(/\b[0-9a-z]{12}[0-9a-f]{6}\b/g, '<id>')
      .replace(/\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?Z/g, '<time>')
      .replace(/"(elapsedMs|durationMs|seconds|uptimeSeconds|trainSeconds|ms)": ?[\d.e+-]+/g, '"$1":<n>')
      .replace(/\b\d+(\.\d+)? s\b/g, '<n> s')
      // doctor probes blktrace on a loop device of its own
      .replace(/debug\/block\/loop\d+\//g, 'debug/block/loop<n>/')
      // Progress log lines: through a server the CLI polls the job, so which of them appear
      // (a phase shorter than a poll is never seen) depends on timing. They are tested on
      // their own (config.test.ts: progress as log lines from a script).
      .replace(/^\w+:(?: [^\d\n][^\n]*?)? \d+(?:\/\d+)?(?=[ ,])[^\n]*, \S+ elapsed[^\n]*\n/gm, '')
  );
}

async function startServe(dataDir: string): Promise<ChildProcess> {
  const proc = spawn(process.execPath, [CLI, 'serve', '--data-dir', dataDir, '--port', '0'], { env: ENV, stdio: ['ignore', 'ignore', 'pipe'] });
  killAtExit(proc); // a finally does not run on a signal or a throw from a timer (util/cleanup.ts)
  let err = '';
  proc.stderr!.on('data', (d) => (err += d));
  const file = path.join(dataDir, 'server.json');
  const mine = () => existsSync(file) && (JSON.parse(readFileSync(file, 'utf8')) as { pid: number }).pid === proc.pid;
  for (let i = 0; i < 600 && !mine(); i++) {
    if (proc.exitCode !== null) throw new Error(`serve exited ${proc.exitCode}: ${err}`);
    await sleep(100);
  }
  return proc;
}

/**
 * An export holding one device record for `loop` (as `recordedOn` says, or as an older ssdtune wrote it), made on
 * the host `exportedOn` names (or by an older ssdtune, which named none): its previous read_ahead_kb is the
 * device's now, its applied one 8 more.
 */
function deviceExport(scratch: string, loop: LoopDevice, o: { recordedOn?: RecordingHost; exportedOn?: RecordingHost } = {}): string {
  const sys = `/sys/block/${loop.name}`;
  const ra = Number(readFileSync(`${sys}/queue/read_ahead_kb`, 'utf8'));
  const value = {
    device: loop.name,
    devNumber: readFileSync(`${sys}/dev`, 'utf8').trim(),
    ...(o.recordedOn ? { recordedOn: o.recordedOn } : {}),
    applied: { read_ahead_kb: String(ra + 8) },
    previous: { read_ahead_kb: String(ra) },
    appliedAt: '2025-01-01T00:00:00.000Z',
    by: 'old',
  };
  const file = path.join(scratch, `${o.recordedOn ? 'foreign' : 'legacy'}${o.exportedOn ? '-here' : ''}.jsonl`);
  writeFileSync(
    file,
    [
      { 'ssdtune-confdb': 1, schema: 1, ...(o.exportedOn ? { exportedOn: o.exportedOn } : {}) },
      { kind: 'devices', value },
    ]
      .map((l) => JSON.stringify(l) + '\n')
      .join(''),
  );
  return file;
}

/**
 * The session: each step is a command line (a function of what earlier steps
 * printed, e.g. a configuration id) and the exit code it must give.
 */
function script(
  dataDir: string,
  scratch: string,
  loop: LoopDevice | undefined,
): { name: string; args: (ctx: Record<string, string>) => string[]; status: number; after?: (out: string, ctx: Record<string, string>) => void }[] {
  const db = ['--data-dir', dataDir];
  const steps: ReturnType<typeof script> = [
    {
      name: 'tune host (new workload, JSON)',
      args: () => ['tune', ...db, '--space', 'host', '--budget', '4', '--json', WSRCH],
      status: 0,
      after: (out, ctx) => void (ctx.config = (JSON.parse(out) as { config: { id: string } }).config.id),
    },
    { name: 'tune host again (known, text)', args: () => ['tune', ...db, '--space', 'host', '--budget', '4', WSRCH], status: 0 },
    {
      name: 'tune ssd with ssdsim, closed-loop replay',
      args: () => ['tune', ...db, '--budget', '3', '--replay', 'closed:8', '--json', MSR],
      status: 0,
      after: (out, ctx) => void (ctx.ssdConfig = (JSON.parse(out) as { config: { id: string } }).config.id),
    },
    { name: 'tune: evaluator outside the space', args: () => ['tune', ...db, '--space', 'host', '--evaluator', 'ssdsim', WSRCH], status: 2 },
    { name: 'tune: budget 1', args: () => ['tune', ...db, '--budget', '1', WSRCH], status: 2 },
    { name: 'tune: a trace too short for a window', args: () => ['tune', ...db, '--space', 'host', path.join(scratch, 'short.csv')], status: 3 },
    { name: 'identify (known)', args: () => ['identify', ...db, '--json', WSRCH], status: 0 },
    { name: 'identify (new)', args: () => ['identify', ...db, MSNFS], status: 0 },
    // Every flag reaches the search through a server too (its remote path used to drop these four).
    {
      name: 'tune --seed --name --format --force-search',
      args: () => [
        'tune',
        ...db,
        '--space',
        'host',
        '--budget',
        '3',
        '--seed',
        '7',
        '--name',
        'nfs-share',
        '--format',
        'msnfs',
        '--force-search',
        '--json',
        MSNFS,
      ],
      status: 0,
      after: (out) => assert.equal((JSON.parse(out) as { workload: { name: string } }).workload.name, 'nfs-share'),
    },
    {
      name: 'tune --force-search on a known workload searches again',
      args: () => ['tune', ...db, '--space', 'host', '--budget', '3', '--force-search', WSRCH],
      status: 0,
      after: (out) => assert.match(out, /learned now/),
    },
    { name: 'db list configs', args: () => ['db', 'list', 'configs', ...db], status: 0 },
    { name: 'db list workloads --json', args: () => ['db', 'list', 'workloads', ...db, '--json'], status: 0 },
    { name: 'db show config', args: (ctx) => ['db', 'show', 'configs', ctx.config!, ...db], status: 0 },
    {
      name: 'db list jobs --json',
      args: () => ['db', 'list', 'jobs', ...db, '--json'],
      status: 0,
      after: (out, ctx) => void (ctx.job = (JSON.parse(out) as { id: string }[])[0]!.id),
    },
    { name: 'db show job', args: (ctx) => ['db', 'show', 'jobs', ctx.job!, ...db], status: 0 },
    { name: 'db show: unknown id', args: () => ['db', 'show', 'jobs', 'nosuch', ...db], status: 4 },
    { name: 'db export', args: () => ['db', 'export', path.join(scratch, 'export.jsonl'), ...db, '--json'], status: 0 },
    { name: 'db import (the same records again)', args: () => ['db', 'import', path.join(scratch, 'export.jsonl'), ...db, '--json'], status: 0 },
    { name: 'db import: a missing file', args: () => ['db', 'import', path.join(scratch, 'none.jsonl'), ...db], status: 3 },
    { name: 'db compact', args: () => ['db', 'compact', ...db], status: 0 },
    { name: 'db delete traces: unknown id', args: () => ['db', 'delete', 'traces', 'nosuch', ...db], status: 4 },
    { name: 'db delete: only traces', args: (ctx) => ['db', 'delete', 'configs', ctx.config!, ...db], status: 2 },
    { name: 'analyze', args: () => ['analyze', MSR], status: 0 },
    { name: 'doctor', args: () => ['doctor', '--json'], status: 0 },
    { name: 'model identify (offline, among given traces)', args: () => ['model', 'identify', WSRCH, '--known', WSRCH, MSNFS, '--json'], status: 0 },
  ];
  if (loop) {
    const dev = ['--device', loop.name];
    steps.push(
      { name: 'apply --export tuned', args: (ctx) => ['apply', ...db, ...dev, '--config', ctx.config!, '--export', 'tuned'], status: 0 },
      { name: 'apply --dry-run', args: (ctx) => ['apply', ...db, ...dev, '--config', ctx.config!, '--dry-run', '--json'], status: 0 },
      { name: 'apply from a file', args: () => ['apply', ...db, '--device', loop.path, '--config', path.join(scratch, 'host.json')], status: 0 },
      { name: 'apply the stored configuration', args: (ctx) => ['apply', ...db, ...dev, '--config', ctx.config!, '--json'], status: 0 },
      { name: 'db show the device record', args: () => ['db', 'show', 'devices', loop.name, ...db], status: 0 },
      {
        name: 'db list devices: the host each record was made on',
        args: () => ['db', 'list', 'devices', ...db],
        status: 0,
        after: (out) => assert.match(out, new RegExp(`^${loop.name} .* ${os.hostname()}\\s*$`, 'm')),
      },
      { name: 'verify (as applied)', args: () => ['verify', ...db, ...dev], status: 0 },
      {
        name: 'verify (drifted)',
        args: () => (writeFileSync(`/sys/block/${loop.name}/queue/nr_requests`, '32'), ['verify', ...db, ...dev, '--json']),
        status: 7,
      },
      { name: 'revert', args: () => ['revert', ...db, ...dev], status: 0 },
      { name: 'verify (nothing applied)', args: () => ['verify', ...db, ...dev], status: 4 },
      // A way back that may not be this device's: refused on import (another host's), or by revert (an older
      // ssdtune's record the device does not match, read_ahead_kb changed by hand) until --anyway.
      {
        name: "db import: another host's device record",
        args: () => [
          'db',
          'import',
          deviceExport(scratch, loop, { recordedOn: { id: 'machine-id:0123456789abcdef0123456789abcdef', name: 'other-host' } }),
          ...db,
        ],
        status: 3,
      },
      // A record naming no host may be any machine's: only an export this host made brings it in.
      {
        name: "db import: an older export's device record (the export names no host)",
        args: () => ['db', 'import', deviceExport(scratch, loop), ...db],
        status: 3,
      },
      {
        name: "db import: an older ssdtune's device record in this host's export",
        args: () => ['db', 'import', deviceExport(scratch, loop, { exportedOn: hostIdentity() }), ...db, '--json'],
        status: 0,
      },
      {
        name: 'revert: a record naming no host that the device matches neither way',
        args: () => {
          const ra = `/sys/block/${loop.name}/queue/read_ahead_kb`;
          writeFileSync(ra, String(Number(readFileSync(ra, 'utf8')) + 4));
          return ['revert', ...db, ...dev];
        },
        status: 7,
      },
      { name: 'revert --anyway', args: () => ['revert', ...db, ...dev, '--anyway'], status: 0 },
      { name: 'apply: an unknown configuration', args: () => ['apply', ...db, ...dev, '--config', 'nosuch'], status: 4 },
      { name: 'apply: an ssd configuration (sysfs cannot set it)', args: (ctx) => ['apply', ...db, ...dev, '--config', ctx.ssdConfig!], status: 3 },
    );
    if (!noCapture) {
      steps.push(
        { name: 'retune --dry-run (no I/O in the window)', args: () => ['retune', ...db, ...dev, '--window', '500ms', '--dry-run', '--json'], status: 0 },
        {
          name: 'collect',
          args: () => ['collect', ...dev, '--duration', '500ms', '-o', path.join(scratch, 'cap'), '--backend', checkBackend('ebpf').works ? 'ebpf' : 'tracefs'],
          status: 0,
        },
      );
    }
  }
  return steps;
}

async function session(mode: 'in-process' | 'server', loop: LoopDevice | undefined): Promise<Entry[]> {
  const dataDir = tempDir(`ssdtune-cli-${mode}-`);
  const scratch = tempDir('ssdtune-cli-scratch-');
  writeFileSync(path.join(scratch, 'short.csv'), readFileSync(MSR, 'utf8').split('\n').slice(0, 20).join('\n') + '\n');
  writeFileSync(path.join(scratch, 'host.json'), JSON.stringify({ read_ahead_kb: 256, nr_requests: 64 }));
  // The server registers these traces by path (traceDirs): the same files as in-process, the same records.
  writeFileSync(path.join(dataDir, 'config.json'), JSON.stringify({ traceDirs: [scratch, path.dirname(WSRCH)] }));
  const server = mode === 'server' ? await startServe(dataDir) : undefined;
  const ctx: Record<string, string> = {};
  const out: Entry[] = [];
  const before = loop ? readFileSync(`/sys/block/${loop.name}/queue/nr_requests`, 'utf8') : '';
  try {
    for (const step of script(dataDir, scratch, loop)) {
      const args = step.args(ctx);
      const r = spawnSync(process.execPath, [CLI, ...args], { env: ENV, encoding: 'utf8', timeout: 300_000 });
      assert.equal(r.status, step.status, `${mode}: ${step.name}: ssdtune ${args.join(' ')}\n${r.stderr}`);
      step.after?.(r.stdout, ctx);
      out.push({
        cmd: step.name,
        status: r.status,
        stdout: mask(r.stdout, dataDir).split(scratch).join('<scratch>'),
        stderr: mask(r.stderr, dataDir).split(scratch).join('<scratch>'),
      });
    }
    if (server) {
      // Everything went through the server: the CLI never opened the ConfDB while it held it.
      const audit = spawnSync(process.execPath, [CLI, 'db', 'list', 'audit', '--data-dir', dataDir, '--limit', '1000', '--json'], {
        env: ENV,
        encoding: 'utf8',
      });
      assert.equal(audit.status, 0, audit.stderr);
      // A trace outside traceDirs: the server refuses its path, the CLI uploads it instead and the command works.
      const elsewhere = tempDir('ssdtune-cli-elsewhere-');
      try {
        const file = path.join(elsewhere, 'elsewhere.trace');
        copyFileSync(MSNFS, file);
        for (const args of [
          ['identify', '--json', file],
          ['tune', '--space', 'host', '--budget', '3', '--json', file],
        ]) {
          const r = spawnSync(process.execPath, [CLI, ...args, '--data-dir', dataDir], { env: ENV, encoding: 'utf8', timeout: 300_000 });
          assert.equal(r.status, 0, `${args[0]} of a trace the server may not read: ${r.stderr}`);
        }
      } finally {
        rmSync(elsewhere, { recursive: true, force: true });
      }
      const traces = spawnSync(process.execPath, [CLI, 'db', 'list', 'traces', '--data-dir', dataDir, '--limit', '1000', '--json'], {
        env: ENV,
        encoding: 'utf8',
      });
      assert.equal(traces.status, 0, traces.stderr);
      const recs = JSON.parse(traces.stdout) as { name: string; path: string }[];
      assert.ok(
        recs.some((t) => t.path === path.join(realpathSync(scratch), 'short.csv')),
        `short.csv registered in place: ${traces.stdout}`,
      );
      assert.ok(
        recs.some((t) => t.name === 'elsewhere.trace' && (t.path.startsWith(dataDir) || t.path.startsWith(realpathSync(dataDir)))),
        `elsewhere.trace uploaded: ${traces.stdout}`,
      );
    }
  } finally {
    if (loop) writeFileSync(`/sys/block/${loop.name}/queue/nr_requests`, before);
    if (server) {
      const exited = new Promise((r) => server.once('exit', r));
      server.kill('SIGTERM');
      await exited;
    }
    // Only once the server has exited: it writes into its data directory until then.
    for (const dir of [dataDir, scratch]) rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

test('every CLI command gives the same result in-process and through a running server', { timeout: 900_000 }, async () => {
  const loop = noLoop ? undefined : createLoopDevice({ sizeBytes: 64 << 20 });
  try {
    const local = await session('in-process', loop);
    const remote = await session('server', loop);
    assert.equal(remote.length, local.length);
    for (let i = 0; i < local.length; i++) assert.deepEqual(remote[i], local[i], local[i]!.cmd);
  } finally {
    loop?.destroy();
  }
});
