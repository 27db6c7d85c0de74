/**
 * Whether a process is alive: the one way to ask it (cleanup waits, lock
 * owners, test daemons). A zombie counts as gone: it has exited and holds
 * nothing but its exit status, and a child stays one until node reaps it,
 * which never happens inside a synchronous exit hook.
 */
import { readFileSync } from 'node:fs';

/** Whether process `pid` exists and is not a zombie. */
export function running(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    return !/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
  }
  // No /proc, or it hides other users' processes (hidepid): ask the kernel (EPERM: it exists, not ours).
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
