/**
 * Small helpers shared by the text formats: looking at a file's head for
 * sniffing, splitting whitespace-separated lines without a regex, and the
 * native byte-level tokenizer for lines of plain numbers.
 */
import { native } from '../native.js';
import { ERR_INTERNAL_INDEX } from '../errors.js';

/**
 * The complete lines at the start of `head` (at most `max`, empty ones dropped),
 * or null when the head looks binary (NUL or other control bytes), so that no
 * text format ever claims a binary file such as a blktrace capture.
 */
export function headLines(head: Buffer, max = 32): string[] | null {
  const n = Math.min(head.length, 65536);
  const text = head.toString('latin1', 0, n);
  // control bytes other than \t \n \v \f \r (one regex scan: every sniffer calls this on 64 KiB)
  // eslint-disable-next-line no-control-regex -- control bytes are what tells a binary file
  if (/[\x00-\x08\x0e-\x1f\x7f]/.test(text)) return null;
  const lines = text.split('\n');
  // The last piece is cut by the 64 KiB window unless the file ended there.
  if (lines.length > 1 && n === 65536) lines.pop();
  const out: string[] = [];
  for (const l of lines) {
    const t = l.endsWith('\r') ? l.slice(0, -1) : l;
    if (t.trim() === '') continue;
    out.push(t);
    if (out.length >= max) break;
  }
  return out;
}

/** Fraction of `lines` accepted by `ok` (0 for no lines). */
export function fractionMatching(lines: readonly string[], ok: (l: string) => boolean): number {
  if (lines.length === 0) return 0;
  let k = 0;
  for (const l of lines) if (ok(l)) k++;
  return k / lines.length;
}

/**
 * Split `line` on runs of spaces/tabs into `out` (reused across calls to avoid
 * garbage); returns the field count. Faster than `split(/\s+/)` on hot paths.
 */
export function splitWs(line: string, out: string[]): number {
  let n = 0;
  let i = 0;
  const len = line.length;
  while (i < len) {
    let c = line.charCodeAt(i);
    while (i < len && (c === 32 || c === 9)) c = line.charCodeAt(++i);
    if (i >= len) break;
    const start = i;
    while (i < len && c !== 32 && c !== 9) c = line.charCodeAt(++i);
    out[n++] = line.slice(start, i);
  }
  return n;
}

/** n values as a tuple type: Tuple<3> is [string, string, string], Tuple<2, number> [number, number]. */
export type Tuple<N extends number, T = string, R extends T[] = []> = R['length'] extends N ? R : Tuple<N, T, [T, ...R]>;

/**
 * `f` typed as exactly `n` fields when it has that many, else undefined:
 * the caller checks the count once and destructures what it needs.
 */
export function exactly<N extends number>(f: string[], n: N): Tuple<N> | undefined {
  return f.length === n ? (f as Tuple<N>) : undefined;
}

/** `f` typed as at least `n` fields (the first n named by the tuple), else undefined. */
export function atLeast<N extends number>(f: string[], n: N): [...Tuple<N>, ...string[]] | undefined {
  return f.length >= n ? (f as [...Tuple<N>, ...string[]]) : undefined;
}

/**
 * Field k of a line split by splitWs, k below the count it returned (the
 * caller checked it). A helper of its own, used only on these string arrays,
 * so the per-line loads stay fast (see col() in src/util/at.ts).
 */
export function field(f: readonly string[], k: number): string {
  const v = f[k];
  if (v === undefined) throw ERR_INTERNAL_INDEX('field', k, f.length);
  return v;
}

/** True for a string of ASCII digits only (non-empty); false for a missing field (undefined). */
export function isDigits(s: string | undefined): boolean {
  if (s === undefined || s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** True for an unsigned decimal with an optional fraction ("12", "0.250"); false for a missing field. */
export function isDecimal(s: string | undefined): boolean {
  if (s === undefined) return false;
  const dot = s.indexOf('.');
  if (dot < 0) return isDigits(s);
  return isDigits(s.slice(0, dot)) && (dot === s.length - 1 || isDigits(s.slice(dot + 1)));
}

/**
 * The sniffers' rule for line formats: the first line fits and nearly all do
 * (a stray bad row must not hide the format; skipBad can then deal with it).
 */
export function looksLike(lines: readonly string[], ok: (l: string) => boolean): boolean {
  const [first] = lines;
  return first !== undefined && ok(first) && fractionMatching(lines, ok) >= 0.75;
}

/**
 * Field kinds of the native tokenizer (native/src/textscan.h): `int` 1-15
 * digits, `dec` digits with an optional fraction (15 digits in all), `bit`
 * exactly "0" or "1". Its values equal `Number(field)` by construction; any
 * other spelling stops the scan so the string parser handles that line.
 */
export const FIELD_KIND = { int: 0, dec: 1, bit: 2 } as const;
export type FieldKind = keyof typeof FIELD_KIND;

/** Why a native scan stopped (state[3]). */
export const ScanStop = { NEED_MORE: 0, FULL: 1, SLOW: 2 } as const;

/**
 * The native scan: rows of `kinds.length` fields, then the line's index from
 * the call's first line and its byte offset, into `out`; returns the row count.
 * `state` receives [next pos, lines consumed, '\n' index of a SLOW line, ScanStop].
 */
export type TextScan = (buf: Uint8Array, pos: number, kinds: Uint8Array, out: Float64Array, state: Float64Array) => number;

export function textScan(): TextScan {
  return native().textScan as TextScan;
}
