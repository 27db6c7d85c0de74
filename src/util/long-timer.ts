/**
 * Timers longer than Node's limit: setTimeout takes at most 2^31-1 ms (24.8
 * days) and fires at once beyond it (with only a warning), so `collect
 * --duration 600h` used to stop immediately. These re-arm in steps under the
 * limit until the deadline.
 */
const MAX_DELAY = 2 ** 31 - 1;

export interface LongTimer {
  cancel(): void;
}

/** Call `fn` once, `ms` milliseconds from now (any finite ms). */
export function longTimeout(fn: () => void, ms: number): LongTimer {
  const deadline = Date.now() + ms;
  let handle: NodeJS.Timeout | undefined;
  const arm = (): void => {
    const left = deadline - Date.now();
    if (left <= 0) {
      handle = undefined;
      fn();
      return;
    }
    handle = setTimeout(arm, Math.min(left, MAX_DELAY));
  };
  arm();
  return {
    cancel() {
      if (handle) clearTimeout(handle);
      handle = undefined;
    },
  };
}

/** Call `fn` every `ms` milliseconds (any finite ms) until cancelled. */
export function longInterval(fn: () => void, ms: number): LongTimer {
  let current: LongTimer | undefined;
  let stopped = false;
  const next = (): void => {
    current = longTimeout(() => {
      if (stopped) return;
      fn();
      next();
    }, ms);
  };
  next();
  return {
    cancel() {
      stopped = true;
      current?.cancel();
    },
  };
}
