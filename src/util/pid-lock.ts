/**
 * Lock files held with flock(2) (through the native addon: Node has no flock), holding the owner's pid for the
 * busy message only. The kernel releases a flock when its process ends, however it ends (kill -9 included), so a
 * lock is never stale and a pid read back from a file decides nothing: a file left by a killed process, naming a pid
 * that now belongs to another process (pid reuse after a long uptime), is simply taken. Chosen over a pid with its
 * start time (/proc/<pid>/stat), which would still read another user's /proc (hidden under hidepid) and still race
 * when two processes take over one stale file (both see its owner gone; one removes the file the other just made).
 * Used for one capture per device, one change of a disk's queue (blockdev/device-lock.ts) and one retune per device.
 */
import { closeSync, constants, fstatSync, ftruncateSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { native } from '../native.js';
import { running } from './running.js';

/** Does `file` still name the open file `fd`? (Its holder removes it on release; a new file may have replaced it.) */
function names(file: string, fd: number): boolean {
  try {
    const [a, b] = [fstatSync(fd), statSync(file)];
    return a.ino === b.ino && a.dev === b.dev;
  } catch {
    return false; // removed
  }
}

/**
 * The pid the holder wrote in `file`, for the busy message. It writes it just after taking the lock: until then the
 * file is empty or names the process a kill -9 left it to, which is gone (or, its pid reused, not the holder).
 */
function owner(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return running(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Take `file` or throw `busy(owner)` (owner: the holding pid, this process's own when it holds it already, or
 * 'another process' when the holder has not written it yet). The returned function releases the lock, removing
 * the file while still holding it (a taker that opened the file before then finds it gone and takes a new one).
 */
export function acquirePidLock(file: string, busy: (owner: number | string) => Error, mode = 0o644): () => void {
  mkdirSync(path.dirname(file), { recursive: true });
  for (;;) {
    // No O_TRUNC: the pid in the file is the holder's until this process holds the lock.
    const fd = openSync(file, constants.O_RDWR | constants.O_CREAT, mode);
    let held = false;
    try {
      if (!(native().flockExclusive(fd) as boolean)) throw busy(owner(file) ?? 'another process');
      if (!names(file, fd)) continue; // locked a file its holder removed on release: take the one the name has now
      ftruncateSync(fd);
      writeSync(fd, `${process.pid}\n`, 0);
      held = true;
    } finally {
      if (!held) closeSync(fd);
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      try {
        if (names(file, fd)) unlinkSync(file);
      } catch {
        /* already gone */
      }
      closeSync(fd);
    };
  }
}
