/**
 * Lock files (src/util/pid-lock.ts) against real processes: a holder that lives refuses the others, naming its
 * pid; a holder killed with SIGKILL leaves its file but not its lock; a file naming a live process that does not
 * hold the lock (its pid reused) is taken; of several processes taking a left file at once, one wins.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { acquirePidLock } from '../src/util/pid-lock.js';
import { killAtExit } from '../src/util/cleanup.js';
import { PROJECT_ROOT } from '../src/native.js';
import { tempDir } from '../src/util/temp-dir.js';

const busy = (owner: number | string) => Object.assign(new Error(`busy: ${owner}`), { owner });

/** The owner named by acquirePidLock's refusal, or 'taken' (released at once) when it was not refused. */
function tryLock(file: string): number | string {
  try {
    acquirePidLock(file, busy)();
    return 'taken';
  } catch (e) {
    return (e as { owner: number | string }).owner;
  }
}

/** Another process that takes `file` (once every process of `start` exists), prints `held` or `busy <owner>`, and holds what it took for `holdMs`. */
function lockingProcess(file: string, holdMs: number, start?: string): { child: ChildProcess; said: Promise<string>; exited: Promise<void> } {
  const script = `const { acquirePidLock } = await import(${JSON.stringify(path.join(PROJECT_ROOT, 'dist/src/util/pid-lock.js'))});
    const { existsSync } = await import('node:fs');
    ${start ? `while (!existsSync(${JSON.stringify(start)})) await new Promise((r) => setTimeout(r, 5));` : ''}
    try {
      const release = acquirePidLock(${JSON.stringify(file)}, (o) => Object.assign(new Error('busy'), { o }));
      console.log('held');
      setTimeout(release, ${holdMs});
    } catch (e) {
      console.log('busy ' + e.o);
    }`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  killAtExit(child);
  const said = new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.trim());
    });
    child.once('exit', () => reject(new Error(`the locking process ended saying ${JSON.stringify(out)}`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { child, said, exited };
}

function withDir(fn: (dir: string) => Promise<void>) {
  return async () => {
    const dir = tempDir('ssdtune-pid-lock-');
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test(
  'a live holder refuses another process and this one, naming its pid; released, the file goes and the lock is free',
  withDir(async (dir) => {
    const file = path.join(dir, 'queue-7_0.lock');
    const holder = lockingProcess(file, 60_000);
    assert.equal(await holder.said, 'held');
    assert.equal(tryLock(file), holder.child.pid);
    assert.equal(await lockingProcess(file, 0).said, `busy ${holder.child.pid}`);
    holder.child.kill('SIGTERM');
    await holder.exited;
    const release = acquirePidLock(file, busy);
    assert.equal(readFileSync(file, 'utf8'), `${process.pid}\n`);
    assert.equal(tryLock(file), process.pid, 'this process holds it: a second take is refused, naming this pid');
    release();
    release(); // once
    assert.equal(existsSync(file), false, 'released: the file is removed');
  }),
);

test(
  'a holder killed with SIGKILL leaves its file, naming its pid, and no lock: the next process takes it at once',
  withDir(async (dir) => {
    const file = path.join(dir, 'queue-7_1.lock');
    const holder = lockingProcess(file, 60_000);
    assert.equal(await holder.said, 'held');
    holder.child.kill('SIGKILL');
    await holder.exited;
    assert.equal(readFileSync(file, 'utf8'), `${holder.child.pid}\n`, 'no exit hook ran: the file is left');
    const release = acquirePidLock(file, busy);
    assert.equal(readFileSync(file, 'utf8'), `${process.pid}\n`);
    release();
  }),
);

test(
  'a file left naming a live process that does not hold the lock (its pid reused) is taken, not read as busy',
  withDir(async (dir) => {
    const file = path.join(dir, 'queue-7_2.lock');
    // The process a killed holder's pid now belongs to: alive, and no ssdtune.
    const reused = spawn('sleep', ['60'], { stdio: 'ignore' });
    killAtExit(reused);
    try {
      writeFileSync(file, `${reused.pid}\n`);
      const release = acquirePidLock(file, busy);
      assert.equal(readFileSync(file, 'utf8'), `${process.pid}\n`);
      release();
    } finally {
      reused.kill('SIGKILL');
    }
  }),
);

test(
  'of several processes taking a left file at once, exactly one holds it and the others name it',
  withDir(async (dir) => {
    const file = path.join(dir, 'queue-7_3.lock');
    writeFileSync(file, '999999999\n'); // left by a process long gone
    const start = path.join(dir, 'start');
    const takers = Array.from({ length: 6 }, () => lockingProcess(file, 3000, start));
    writeFileSync(start, '');
    const said = await Promise.all(takers.map((t) => t.said));
    const holders = takers.filter((_, i) => said[i] === 'held');
    assert.equal(holders.length, 1, said.join(', '));
    // Refused before the winner wrote its pid over the one left, a taker names no pid rather than the gone one.
    const winner = holders[0]!.child.pid;
    for (const s of said.filter((x) => x !== 'held')) assert.ok([`busy ${winner}`, 'busy another process'].includes(s), said.join(', '));
    await Promise.all(takers.map((t) => t.exited));
  }),
);
