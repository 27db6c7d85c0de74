/**
 * CPU time of the calling thread, for tests that check work stays off the
 * event loop. Neither process.cpuUsage (every thread of the process, the
 * workers included) nor performance.eventLoopUtilization (wall-clock time the
 * loop was not idle, so time spent waiting for a CPU on a loaded machine
 * counts as busy) measures that: the loop thread's own CPU time does, and load
 * hardly moves it. Node 20 has no per-thread CPU clock, so it is read from
 * /proc: schedstat's first field is the thread's time on a CPU in
 * nanoseconds; where the kernel lacks schedstat, stat's utime + stime in
 * clock ticks stand in.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

let clockTicks: number | undefined;

/** Nanoseconds of CPU the calling thread has used (readFileSync runs on the caller's thread). */
export function threadCpuNs(): number {
  if (existsSync('/proc/thread-self/schedstat')) return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]);
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  const stat = readFileSync('/proc/thread-self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1e9) / clockTicks;
}

/** The calling thread's CPU time (ms) while `f` runs, with f's value. */
export async function loopCpuMs<T>(f: () => Promise<T> | T): Promise<{ value: T; ms: number }> {
  const c0 = threadCpuNs();
  const value = await f();
  return { value, ms: (threadCpuNs() - c0) / 1e6 };
}
