/**
 * Reads a host configuration file: a JSON object of attribute -> value, either
 * at the top level or under "config" (the form `ssdtune tune --json` and the
 * REST API return). Keys may be `read_ahead_kb`, `queue/read_ahead_kb` or
 * `iosched.fifo_batch`.
 */
import { readFileSync } from 'node:fs';
import { ERR_HOST_CONFIG } from '../errors.js';
import { shown } from '../util/shown.js';

export function readHostConfigFile(file: string): Record<string, string | number> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw ERR_HOST_CONFIG(file, 'open', (e as Error).message);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw ERR_HOST_CONFIG(file, 'parse', `expected JSON (${(e as Error).message})`);
  }
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObj(data) && isObj(data.config)) data = data.config;
  if (!isObj(data)) throw ERR_HOST_CONFIG(file, 'top level', 'expected an object of attribute: value');
  const out: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(data)) {
    if (typeof v !== 'string' && typeof v !== 'number') throw ERR_HOST_CONFIG(file, `key "${k}"`, 'expected a number or a string value');
    // Refused here, where the file is named: sent on to a server, JSON would carry it as null.
    if (typeof v === 'number' && !Number.isFinite(v)) {
      const raw = writtenNumber(text, k);
      throw ERR_HOST_CONFIG(file, `key "${k}"`, `expected a finite number, got ${raw !== undefined ? `${raw} (not finite: beyond ±1.8e308)` : shown(v)}`);
    }
    out[k] = v;
  }
  if (Object.keys(out).length === 0) throw ERR_HOST_CONFIG(file, 'top level', 'expected at least one attribute');
  return out;
}

/** The number as the file spells it for `key` (the last, as JSON.parse keeps the last), when it is not finite. */
function writtenNumber(text: string, key: string): string | undefined {
  const quoted = JSON.stringify(key).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const found = [...text.matchAll(new RegExp(`${quoted}\\s*:\\s*(-?(?:\\d+\\.?\\d*|\\.\\d+)(?:[eE][+-]?\\d+)?)`, 'g'))].map((m) => m[1]!);
  return found.filter((n) => !Number.isFinite(Number(n))).at(-1);
}
