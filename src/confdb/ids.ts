/** Identifiers that sort by creation time (LevelDB iterates keys in order). */
import { randomBytes } from 'node:crypto';

let lastMs = 0;
let seq = 0;

/** `<ms base36, 9 chars><seq base36, 3 chars><6 random hex>`: unique, time-ordered within a process. */
export function newId(): string {
  const ms = Date.now();
  if (ms === lastMs) seq++;
  else {
    lastMs = ms;
    seq = 0;
  }
  return ms.toString(36).padStart(9, '0') + (seq % 46656).toString(36).padStart(3, '0') + randomBytes(3).toString('hex');
}

const ID_RE = /^[0-9a-z]{12}[0-9a-f]{6}$/;
export function isId(s: string): boolean {
  return ID_RE.test(s);
}
