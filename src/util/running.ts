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

/**
 * When process `pid` started, in ms since the epoch (to about a second: /proc/stat's boot time is in seconds), or
 * undefined when /proc does not say (gone, or hidden under hidepid). From /proc/<pid>/stat's starttime (field 22,
 * in clock ticks since boot: USER_HZ, 100 on Linux) and the boot time. Tells a pid's process from an earlier one
 * that had the pid: a process that started after something was written is not the one that wrote it.
 */
export function startedAt(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may hold spaces and parentheses) start at field 3.
    const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[22 - 3]);
    const btime = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
    return Number.isFinite(ticks) && Number.isFinite(btime) ? btime * 1000 + ticks * 10 : undefined;
  } catch {
    return undefined;
  }
}
