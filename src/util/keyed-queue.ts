/**
 * One caller at a time per key, in the order they arrived; different keys
 * run concurrently. The stores' named locks queue here in-process first, so a
 * process never parks more than one waiter per lock on its engine (on
 * PostgreSQL each waiter holds a pooled connection while it waits).
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const run = (this.tails.get(key) ?? Promise.resolve()).then(fn);
    const tail = run.then(
      () => {},
      () => {},
    );
    this.tails.set(key, tail);
    // The last one out forgets the key, so the map holds only keys in use.
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return run;
  }
}
