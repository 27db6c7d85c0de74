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
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { test } from 'node:test';
import { canUseLoopDevices } from '../src/blockdev/loop.js';
import { fuseMissing } from '../src/collector/testbed.js';
import { PROJECT_ROOT } from '../src/native.js';
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

async function dieAndCheck(how: 'timer' | 'rejection' | 'SIGTERM' | 'SIGINT'): Promise<void> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, how, noFuse ? 'plain' : 'fuse'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const made = await new Promise<Made>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]!) as Made);
    });
    child.once('exit', () => reject(new Error(`the child died before it made its devices: ${err}`)));
  });
  try {
    // Control: everything is there while the child lives, so the checks below can fail.
    const losetup = (): string => execFileSync('losetup', ['-a'], { encoding: 'utf8' });
    for (const l of made.loops) assert.ok(losetup().includes(l.backing), `${l.name} over ${l.backing} is attached`);
    for (const p of made.pids) assert.ok(running(p), `pid ${p} runs`);
    for (const m of made.mounts) assert.ok(readFileSync('/proc/mounts', 'utf8').includes(` ${m} `), `${m} is mounted`);
    for (const d of made.dirs) assert.ok(existsSync(d), `${d} exists`);
    assert.equal(made.loops.length, noFuse ? 1 : 2);
    assert.equal(made.pids.length, noFuse ? 1 : 2);

    const exited = new Promise<[number | null, NodeJS.Signals | null]>((r) => child.once('exit', (code, sig) => r([code, sig])));
    if (how === 'SIGTERM' || how === 'SIGINT') child.kill(how);
    else child.stdin.write('go\n');
    const [code, sig] = await exited;
    if (how === 'timer' || how === 'rejection') {
      assert.equal(code, 1, err);
      assert.match(err, how === 'timer' ? /injected from a timer/ : /injected rejection/);
    } else assert.equal(sig, how, `died of ${how} (re-raised after the cleanup), not code ${code}: ${err}`);

    const lo = losetup();
    for (const l of made.loops) assert.ok(!lo.includes(l.backing), `${l.name} over ${l.backing} was left attached:\n${lo}`);
    for (const p of made.pids) assert.ok(!lingers(p), `pid ${p} was left running`);
    const mounts = readFileSync('/proc/mounts', 'utf8');
    for (const m of made.mounts) assert.ok(!mounts.includes(` ${m} `), `${m} was left mounted`);
    for (const d of made.dirs) assert.ok(!existsSync(d), `${d} was left: ${existsSync(d) ? readdirSync(d).join(' ') : ''}`);
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await gone;
    }
    sweep(made);
    child.stdout.destroy();
    child.stderr.destroy();
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
