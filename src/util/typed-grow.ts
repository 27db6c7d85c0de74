/** The typed arrays that grow as rows arrive (trace columns, the readahead model's page frames). */
export type GrowableArray = Float64Array | Int32Array | Uint32Array | Uint16Array | Uint8Array;

/** A new array of length `n` holding the first `keep` elements of `old` (all of them by default); zeros when there is no `old`. */
export function grown<T extends GrowableArray>(old: T | undefined, ctor: new (n: number) => T, n: number, keep = old?.length ?? 0): T {
  const a = new ctor(n);
  if (old) a.set(old.subarray(0, keep) as never);
  return a;
}
