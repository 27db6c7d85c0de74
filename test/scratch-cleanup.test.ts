/**
 * The one cleanup path (src/util/cleanup.ts) of what the tests and
 * benchmarks make outside their process: a process that dies of an
 * exception thrown from a timer, of an unhandled rejection, or of SIGTERM
 * or SIGINT, where no finally block runs, leaves no loop device, FUSE
 * daemon, mount, child process or temporary directory behind. Each case
 * runs in a child process that makes the collector bench's slow device (a
 * loop device over the file of a FUSE daemon, bench/fuse-delay.c), a plain
 * scratch loop device and a child process, then dies; this process then
 * reads `losetup -a`, the process list, /proc/mounts and the directories.
 */
import { strict as assert } from 'node:assert';
import { execFileSync, spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { closeSync, constants, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { canUseLoopDevices, createLoopDevice } from '../src/blockdev/loop.js';
import { resolveDevice } from '../src/blockdev/resolve.js';
import { parseScheduler, readAttr, readSnapshot, writeAttr } from '../src/blockdev/sysfs.js';
import { fuseMissing } from '../src/collector/testbed.js';
import { PROJECT_ROOT } from '../src/native.js';
import { signalProcess } from '../src/util/cleanup.js';
import { running } from '../src/util/running.js';

const noLoop = canUseLoopDevices();
const noFuse = fuseMissing();

/** What the child made: loop devices with their backing files, processes with their command lines, mounts, directories. */
interface Made {
  loops: { name: string; backing: string }[];
  pids: number[];
  mounts: string[];
  dirs: string[];
}

const CHILD = `
  import { spawn } from 'node:child_process';
  import { readdirSync, readFileSync } from 'node:fs';
  import path from 'node:path';
  const root = ${JSON.stringify(PROJECT_ROOT)};
  const tb = await import(root + '/dist/src/collector/testbed.js');
  const { killAtExit } = await import(root + '/dist/src/util/cleanup.js');
  const [how, withFuse] = process.argv.slice(1);
  const devs = [tb.createLoop(8)];
  if (withFuse === 'fuse') devs.push(tb.createFuseLoop(50));
  const made = { loops: [], pids: [], mounts: [], dirs: [] };
  for (const d of devs) {
    const backing = readFileSync('/sys/block/' + d.name + '/loop/backing_file', 'utf8').trim();
    made.loops.push({ name: d.name, backing });
    made.dirs.push(path.dirname(backing));
  }
  if (withFuse === 'fuse') {
    // The FUSE daemon: the process whose command line names the mount point the loop device's file is in.
    const mnt = path.dirname(made.loops[1].backing);
    made.mounts.push(mnt);
    made.dirs.push(path.dirname(mnt));
    for (const p of readdirSync('/proc').filter((x) => /^\\d+$/.test(x))) {
      let argv;
      try { argv = readFileSync('/proc/' + p + '/cmdline', 'utf8').split('\\0'); } catch { continue; }
      if (argv.includes(mnt)) { made.pids.push(Number(p)); made.dirs.push(path.dirname(argv[1])); }
    }
  }
  // A daemon of the kind the benches start (fio, bpftrace, a server).
  const child = spawn('sleep', ['600'], { stdio: 'ignore' });
  killAtExit(child);
  made.pids.push(child.pid);
  console.log(JSON.stringify(made));
  // The death comes once the parent has seen everything in place (a line on stdin), or as its signal.
  setInterval(() => {}, 1000);
  process.stdin.once('data', () => {
    if (how === 'timer') setTimeout(() => { throw new Error('injected from a timer'); }, 10);
    else if (how === 'rejection') setTimeout(() => void Promise.reject(new Error('injected rejection')), 10);
  });
`;

/** Whether `pid` still runs 3 s on (a signalled process takes a moment to go; a zombie is gone). */
function lingers(pid: number): boolean {
  for (let i = 0; i < 60 && running(pid); i++) spawnSync('sleep', ['0.05']);
  return running(pid);
}

/** Removes what a failing case left (only what its child made), so that a failure leaks nothing. */
function sweep(made: Made): void {
  const lo = execFileSync('losetup', ['-a'], { encoding: 'utf8' }).split('\n');
  for (const l of made.loops)
    if (lo.some((x) => x.startsWith(`/dev/${l.name}:`) && x.includes(l.backing))) spawnSync('losetup', ['--detach', `/dev/${l.name}`]);
  for (const p of made.pids) if (running(p)) process.kill(p, 'SIGKILL');
  for (const m of made.mounts) spawnSync('umount', ['-l', m], { stdio: 'ignore' });
  for (const d of made.dirs) rmSync(d, { recursive: true, force: true });
}

type How = 'timer' | 'rejection' | 'SIGTERM' | 'SIGINT';

/** Runs `script` in a child node process; resolves with the first line it prints (what it made, as JSON). */
async function startChild<T>(script: string, args: string[]): Promise<{ child: ChildProcessWithoutNullStreams; made: T; stderr: () => string }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const made = await new Promise<T>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]!) as T);
    });
    child.once('exit', () => reject(new Error(`the child died before it made its things: ${err}`)));
  });
  return { child, made, stderr: () => err };
}

/** Makes the child die `how` (a timer or rejection on a line on stdin, or the signal) and checks it died of that. */
async function kill(child: ChildProcessWithoutNullStreams, how: How, stderr: () => string): Promise<void> {
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((r) => child.once('exit', (code, sig) => r([code, sig])));
  if (how === 'SIGTERM' || how === 'SIGINT') child.kill(how);
  else child.stdin.write('go\n');
  const [code, sig] = await exited;
  if (how === 'timer' || how === 'rejection') {
    assert.equal(code, 1, stderr());
    assert.match(stderr(), how === 'timer' ? /injected from a timer/ : /injected rejection/);
  } else assert.equal(sig, how, `died of ${how} (re-raised after the cleanup), not code ${code}: ${stderr()}`);
}

/** After a failed check: the child is gone and its pipes closed. */
async function reap(child: ChildProcessWithoutNullStreams): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await gone;
  }
  child.stdout.destroy();
  child.stderr.destroy();
}

async function dieAndCheck(how: How): Promise<void> {
  const { child, made, stderr } = await startChild<Made>(CHILD, [how, noFuse ? 'plain' : 'fuse']);
  try {
    // Control: everything is there while the child lives, so the checks below can fail.
    const losetup = (): string => execFileSync('losetup', ['-a'], { encoding: 'utf8' });
    for (const l of made.loops) assert.ok(losetup().includes(l.backing), `${l.name} over ${l.backing} is attached`);
    for (const p of made.pids) assert.ok(running(p), `pid ${p} runs`);
    for (const m of made.mounts) assert.ok(readFileSync('/proc/mounts', 'utf8').includes(` ${m} `), `${m} is mounted`);
    for (const d of made.dirs) assert.ok(existsSync(d), `${d} exists`);
    assert.equal(made.loops.length, noFuse ? 1 : 2);
    assert.equal(made.pids.length, noFuse ? 1 : 2);

    await kill(child, how, stderr);

    const lo = losetup();
    for (const l of made.loops) assert.ok(!lo.includes(l.backing), `${l.name} over ${l.backing} was left attached:\n${lo}`);
    for (const p of made.pids) assert.ok(!lingers(p), `pid ${p} was left running`);
    const mounts = readFileSync('/proc/mounts', 'utf8');
    for (const m of made.mounts) assert.ok(!mounts.includes(` ${m} `), `${m} was left mounted`);
    for (const d of made.dirs) assert.ok(!existsSync(d), `${d} was left: ${existsSync(d) ? readdirSync(d).join(' ') : ''}`);
  } finally {
    await reap(child);
    sweep(made);
  }
}

for (const how of ['timer', 'rejection', 'SIGTERM', 'SIGINT'] as const)
  test(
    `a process that dies of ${how === 'timer' ? 'an exception thrown from a timer' : how === 'rejection' ? 'an unhandled rejection' : how} leaves no device, daemon, mount or directory`,
    { skip: noLoop },
    async (t) => {
      if (noFuse) t.diagnostic(`without the FUSE device (${noFuse}): a plain loop device and a child process only`);
      await dieAndCheck(how);
    },
  );

/**
 * The children the tests and benchmarks start, each started here as they start it and registered
 * where it is made: the serve child (as the e2e tests start it), PostgreSQL and Redis (test/helpers/servers),
 * a fleet worker on them (as fleet-queue does), fio on a scratch loop device (testbed's runFioAsync) and a
 * capturing collector child (as collector-robustness does: asked with SIGTERM first, so that it removes its own
 * tracefs instance). Prints what it made; dies as told.
 */
const DAEMONS = `
  import { spawn } from 'node:child_process';
  import { readFileSync } from 'node:fs';
  const root = ${JSON.stringify(PROJECT_ROOT)};
  const { killAtExit } = await import(root + '/dist/src/util/cleanup.js');
  const tb = await import(root + '/dist/src/collector/testbed.js');
  const servers = await import(root + '/dist/test/helpers/servers.js');
  const { tempDir } = await import(root + '/dist/src/util/temp-dir.js');
  const { checkTracefs } = await import(root + '/dist/src/collector/doctor.js');
  const CLI = root + '/dist/src/cli/main.js';
  const made = { dirs: [], loops: [], instances: [], pids: {} };
  const ready = (child, what, re) => new Promise((resolve, reject) => {
    let err = '';
    child[re ? 'stderr' : 'stdout'].on('data', (d) => { err += d; if (!re || re.test(err)) resolve(err); });
    child.once('exit', (c) => reject(new Error(what + ' exited with ' + c + ': ' + err)));
  });
  const data = tempDir('ssdtune-cleanup-serve-');
  made.dirs.push(data);
  const serve = spawn(process.execPath, [CLI, 'serve', '--data-dir', data, '--port', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  killAtExit(serve);
  await ready(serve, 'serve', /serving http/);
  made.pids.serve = serve.pid;
  if (!servers.postgresMissing() && !servers.redisMissing()) {
    const pg = await servers.PostgresServer.start();
    const redis = await servers.RedisServer.start();
    made.dirs.push(pg.dir, redis.dir);
    made.pids.postgres = Number(readFileSync(pg.dataDir + '/postmaster.pid', 'utf8').split('\\n')[0]);
    const wdata = tempDir('ssdtune-cleanup-worker-');
    made.dirs.push(wdata);
    const worker = spawn(process.execPath, [CLI, 'worker', '--data-dir', wdata, '--lock', '2s'], {
      env: { ...process.env, SSDTUNE_STORE: await pg.newDatabase(), SSDTUNE_QUEUE: redis.url },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    killAtExit(worker);
    made.pids.worker = worker.pid;
  }
  const loop = tb.createLoop(16);
  made.loops.push({ name: loop.name, backing: readFileSync('/sys/block/' + loop.name + '/loop/backing_file', 'utf8').trim() });
  void tb.runFioAsync(loop.path, { rw: 'randread', bs: 4096, ios: 0, size: '8M', runtimeSec: 600 });
  if (checkTracefs().works) {
    const script = "const m = await import('" + root + "/dist/src/collector/index.js'); const { collector } = await m.openCollector('" + loop.path + "', { backend: 'tracefs' }); console.log(collector.instance); setInterval(() => {}, 1000);";
    const collector = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    killAtExit(collector, { signal: 'SIGTERM', graceMs: 5000 });
    made.instances.push((await ready(collector, 'the collector')).trim());
    made.pids.collector = collector.pid;
  }
  console.log(JSON.stringify(made));
  setInterval(() => {}, 1000);
  process.stdin.once('data', () => setTimeout(() => { throw new Error('injected from a timer'); }, 10));
`;

interface Daemons {
  dirs: string[];
  loops: { name: string; backing: string }[];
  instances: string[];
  pids: Record<string, number>;
}

/** Every process descended from `root` now: pid and command name. */
function descendants(root: number): { pid: number; comm: string }[] {
  const parent = new Map<number, number>();
  const comm = new Map<number, string>();
  for (const p of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      parent.set(Number(p), Number(stat.slice(close + 2).split(' ')[1]));
      comm.set(Number(p), stat.slice(stat.indexOf('(') + 1, close));
    } catch {
      /* gone meanwhile */
    }
  }
  const under = (pid: number): boolean => {
    for (let q = parent.get(pid); q !== undefined && q > 1; q = parent.get(q)) if (q === root) return true;
    return false;
  };
  return [...parent.keys()].filter(under).map((pid) => ({ pid, comm: comm.get(pid)! }));
}

for (const how of ['timer', 'SIGTERM'] as const)
  test(
    `the children tests and benches start (serve, PostgreSQL, Redis, a fleet worker, fio, a collector) go with a process that dies of ${how === 'timer' ? 'an exception thrown from a timer' : how}`,
    { skip: noLoop, timeout: 120_000 },
    async (t) => {
      const { child, made, stderr } = await startChild<Daemons>(DAEMONS, []);
      // fio's job runs in a process fio forks once set up: wait for it (it must go too).
      let procs = descendants(child.pid!);
      for (let i = 0; i < 100 && procs.filter((p) => p.comm === 'fio').length < 2; i++) {
        await new Promise((r) => setTimeout(r, 50));
        procs = descendants(child.pid!);
      }
      try {
        // Control: everything runs while the child lives, so the checks below can fail.
        for (const [what, pid] of Object.entries(made.pids)) assert.ok(running(pid), `${what} (pid ${pid}) runs`);
        const comms = procs.map((p) => p.comm);
        assert.equal(comms.filter((c) => c === 'fio').length, 2, `fio and its job run: ${comms.join(' ')}`);
        if (made.pids.postgres) assert.ok(comms.includes('postgres') && comms.includes('redis-server'), comms.join(' '));
        else t.diagnostic('without PostgreSQL or Redis: no database daemons and no fleet worker');
        if (!made.instances.length) t.diagnostic('tracefs does not work here: no collector child');
        for (const i of made.instances) assert.ok(existsSync(i), `${i} exists`);
        for (const d of made.dirs) assert.ok(existsSync(d), `${d} exists`);
        assert.ok(execFileSync('losetup', ['-a'], { encoding: 'utf8' }).includes(made.loops[0]!.backing));

        await kill(child, how, stderr);

        const left = procs.filter((p) => lingers(p.pid));
        assert.deepEqual(left, [], `processes left running: ${JSON.stringify(left)}`);
        const lo = execFileSync('losetup', ['-a'], { encoding: 'utf8' });
        for (const l of made.loops) assert.ok(!lo.includes(l.backing), `${l.name} over ${l.backing} was left attached`);
        for (const i of made.instances) assert.ok(!existsSync(i), `tracefs instance ${i} was left (the collector was not asked to stop first)`);
        for (const d of made.dirs) assert.ok(!existsSync(d), `${d} was left`);
      } finally {
        await reap(child);
        sweep({ loops: made.loops, pids: procs.map((p) => p.pid), mounts: [], dirs: made.dirs });
      }
    },
  );

test('running(pid): a live process runs; an exited one, a zombie and a pid that never was do not', async () => {
  assert.ok(running(process.pid));
  // `sleep 0.3` exits once its parent has become `sleep 5`, which never reaps it: a zombie.
  const sh = spawn('sh', ['-c', 'sleep 0.3 & echo $!; exec sleep 5'], { stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    const zombie = Number(await new Promise<string>((r) => sh.stdout.once('data', (d: Buffer) => r(d.toString()))));
    let stat = '';
    for (let i = 0; i < 200 && !/ Z /.test(stat); i++) {
      spawnSync('sleep', ['0.02']);
      stat = readFileSync(`/proc/${zombie}/stat`, 'utf8');
    }
    assert.match(stat, /^\d+ \(sleep\) Z /, 'the control: the process exists as a zombie');
    assert.equal(running(zombie), false);
    assert.equal(running(sh.pid!), true);
  } finally {
    const gone = new Promise((r) => sh.once('exit', r));
    sh.kill('SIGKILL');
    await gone;
  }
  assert.equal(running(sh.pid!), false, 'reaped: gone');
  assert.equal(running(0), false);
  assert.equal(running(2 ** 22 + 1), false, 'above pid_max');
});

test('a loop device over a file its caller made: attached with direct I/O, destroy() detaches it and leaves the file', { skip: noLoop }, (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ssdtune-own-backing-'));
  try {
    const file = path.join(dir, 'disk.img');
    writeFileSync(file, Buffer.alloc(4 << 20, 7));
    const loop = createLoopDevice({ backingFile: file, directIo: true });
    try {
      assert.equal(readFileSync(`/sys/block/${loop.name}/loop/backing_file`, 'utf8').trim(), file);
      // The kernel takes direct I/O where the file system opens the file with O_DIRECT.
      let direct = true;
      try {
        closeSync(openSync(file, constants.O_RDONLY | constants.O_DIRECT));
      } catch {
        direct = false;
        t.diagnostic(`${dir}: its file system refuses O_DIRECT, so the loop device runs without direct I/O`);
      }
      if (direct) assert.equal(readFileSync(`/sys/block/${loop.name}/loop/dio`, 'utf8').trim(), '1', 'direct I/O');
    } finally {
      loop.destroy();
    }
    assert.ok(!execFileSync('losetup', ['-a'], { encoding: 'utf8' }).includes(file), 'detached');
    assert.deepEqual(readFileSync(file), Buffer.alloc(4 << 20, 7), 'the file stays, unchanged');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('destroy() of a loop device someone else detached leaves alone the device that took its number', { skip: noLoop }, () => {
  const ours = createLoopDevice({ sizeBytes: 1 << 20 });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ssdtune-other-backing-'));
  let theirs = false;
  try {
    // Our device is detached behind our back (a test's `losetup -d`, an operator), and another process's
    // device takes the freed number: attached here explicitly by number, so the reuse is certain.
    execFileSync('losetup', ['--detach', ours.path]);
    const other = path.join(dir, 'other.img');
    writeFileSync(other, Buffer.alloc(1 << 20));
    execFileSync('losetup', [ours.path, other]);
    theirs = true;
    ours.destroy();
    const now = readFileSync(`/sys/block/${ours.name}/loop/backing_file`, 'utf8').trim();
    assert.equal(now, other, `${ours.path} now belongs to another: destroy() must not detach it`);
    assert.ok(!existsSync(path.dirname(ours.backingFile)), 'our backing file is removed all the same');
  } finally {
    if (theirs) spawnSync('losetup', ['--detach', ours.path]);
    ours.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("destroy() gives the loop number its queue settings back as it found them: the number's next user inherits none of ours", { skip: noLoop }, () => {
  const loop = createLoopDevice({ sizeBytes: 1 << 20 });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ssdtune-next-user-'));
  let next = false;
  try {
    const dev = resolveDevice(loop.path);
    const found = readSnapshot(dev);
    const other = parseScheduler(readAttr(dev, 'scheduler')).available.find((s) => s !== found.scheduler);
    assert.ok(other, 'a second scheduler is offered');
    // What a test may leave: another scheduler (it resets nr_requests and the tunables), and more of the allow-list.
    writeAttr(dev, 'scheduler', other);
    const left = {
      read_ahead_kb: String(Number(found.read_ahead_kb) + 4),
      nr_requests: '32',
      rq_affinity: found.rq_affinity === '2' ? '1' : '2',
      nomerges: found.nomerges === '0' ? '1' : '0',
    };
    for (const [k, v] of Object.entries(left)) writeAttr(dev, k, v);
    assert.deepEqual(readSnapshot(dev), { ...readSnapshot(dev), scheduler: other, ...left }, 'changed');
    loop.destroy();
    // The number's next user: attached by number, so it is the same queue.
    const file = path.join(dir, 'next.img');
    writeFileSync(file, Buffer.alloc(1 << 20));
    execFileSync('losetup', [loop.path, file]);
    next = true;
    assert.deepEqual(readSnapshot(resolveDevice(loop.path)), found);
  } finally {
    if (next) spawnSync('losetup', ['--detach', loop.path]);
    loop.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('signalProcess: the one way to signal a child reaches its whole group, and says false once there is nothing to signal', async () => {
  // A group: bash leads it and has started a sleep of its own, as /usr/bin/time starts MQSim.
  const lead = spawn('bash', ['-c', 'sleep 600 & echo $!; wait'], { stdio: ['ignore', 'pipe', 'ignore'], detached: true });
  const member = Number(await new Promise<string>((r) => lead.stdout.once('data', (d: Buffer) => r(d.toString()))));
  const gone = new Promise((r) => lead.once('exit', r));
  assert.ok(running(member), 'the control: the member runs');
  assert.equal(signalProcess(lead.pid, 'SIGKILL', true), true);
  await gone;
  assert.ok(!lingers(member), 'the member went with the group');
  // (Not the group: its member may stay a zombie, still in it, until init reaps it.)
  assert.equal(signalProcess(lead.pid, 'SIGTERM'), false, 'ESRCH: the leader is gone (reaped)');
  assert.equal(signalProcess(undefined, 'SIGKILL', true), false, 'no pid: the spawn failed');
  assert.throws(() => signalProcess(process.pid, 'SIGNOPE' as NodeJS.Signals), /SIGNOPE|signal/i, 'an error that is not "nothing to signal" is thrown');
});

/**
 * Four children that ignore SIGTERM, each registered with a 1.5 s grace, and a directory registered before them
 * whose undo notes which of them still ran when it ran. Prints the children's pids; throws from a timer on a line.
 */
const SLOW_CHILDREN = `
  import { spawn } from 'node:child_process';
  import { writeFileSync } from 'node:fs';
  const root = ${JSON.stringify(PROJECT_ROOT)};
  const { killAtExit, registerUndo } = await import(root + '/dist/src/util/cleanup.js');
  const { running } = await import(root + '/dist/src/util/running.js');
  const [note, n] = process.argv.slice(1);
  const pids = [];
  registerUndo(() => writeFileSync(note, JSON.stringify(pids.filter(running))));
  for (let i = 0; i < Number(n); i++) {
    // SIGTERM ignored, and still ignored after the exec: only SIGKILL ends it.
    const child = spawn('bash', ['-c', 'trap "" TERM; exec sleep 600'], { stdio: 'ignore' });
    killAtExit(child, { signal: 'SIGTERM', graceMs: 1500 });
    pids.push(child.pid);
  }
  console.log(JSON.stringify(pids));
  setInterval(() => {}, 1000);
  process.stdin.once('data', () => setTimeout(() => { throw new Error('injected from a timer'); }, 10));
`;

test('exit stops its children together: four that ignore SIGTERM with a 1.5 s grace each take one grace, not four, and go before the older undos', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ssdtune-slow-children-'));
  try {
    const note = path.join(dir, 'note.json');
    const { child, made: pids, stderr } = await startChild<number[]>(SLOW_CHILDREN, [note, '4']);
    try {
      for (const p of pids) assert.ok(running(p), `the control: pid ${p} runs`);
      // Let bash exec sleep (the trap set): a SIGTERM before the exec would end it at once.
      for (let i = 0; i < 100 && !pids.every((p) => readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'sleep'); i++)
        await new Promise((r) => setTimeout(r, 20));
      const t0 = Date.now();
      await kill(child, 'timer', stderr);
      const took = Date.now() - t0;
      for (const p of pids) assert.ok(!lingers(p), `pid ${p} was left running`);
      assert.deepEqual(JSON.parse(readFileSync(note, 'utf8')), [], 'the older undo ran once every child had gone');
      // One grace (1.5 s) and the SIGKILL; serially it was 4 x 1.5 s = 6 s at least.
      assert.ok(took >= 1400 && took < 4500, `exit took ${took} ms`);
    } finally {
      await reap(child);
      sweep({ loops: [], pids, mounts: [], dirs: [] });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const bench of ['api', 'abuse'] as const)
  test(`the ${bench} bench killed by SIGTERM leaves no temporary directory`, { timeout: 60_000 }, async () => {
    // A TMPDIR of this test's own: whatever the bench leaves is in it.
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'ssdtune-bench-kill-'));
    try {
      const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'dist', 'bench', 'run.js'), bench], {
        env: { ...process.env, TMPDIR: tmp },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const exited = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_c, sig) => r(sig)));
      try {
        // Control: the bench made its directory (the kill comes while it is in use).
        let made: string[] = [];
        for (let i = 0; i < 600 && made.length === 0 && child.exitCode === null; i++) {
          await new Promise((r) => setTimeout(r, 50));
          made = readdirSync(tmp).filter((f) => f.startsWith(`ssdtune-bench-${bench}-`));
        }
        assert.equal(made.length, 1, `the bench made its directory: ${readdirSync(tmp).join(' ')}; ${err}`);
        child.kill('SIGTERM');
        assert.equal(await exited, 'SIGTERM', err);
        assert.deepEqual(readdirSync(tmp), [], `left in TMPDIR; the bench's stderr: ${err}`);
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
