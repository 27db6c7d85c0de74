/**
 * A value as an error message echoes it back: its JSON text, as the user wrote it in a JSON file or body. JSON has
 * no text for a number that is not finite (a file's 1e400 parses to Infinity, which JSON.stringify prints as
 * `null`, a value nobody wrote), so such a number says what it is instead.
 */
export function shown(v: unknown): string {
  if (typeof v === 'number' && !Number.isFinite(v))
    return Number.isNaN(v) ? 'NaN (not a number)' : `${v < 0 ? '-' : ''}Infinity (not finite: JSON reads a number beyond ±1.8e308, such as 1e400, as infinite)`;
  return JSON.stringify(v) ?? String(v);
}
