/**
 * Training data of the similarity model: every readable trace of a
 * directory, cut into one stream of window vectors per device / volume
 * (Tencent volumes, MQSim devices, MSNFS devices interleave independent
 * workloads; identification windows each device the same way, see
 * identify.ts and service/identify.ts).
 *
 * Names:
 * - a stream is `file` (one device) or `file#device`;
 * - its source is its file: every stream of a file is held out together in
 *   the leave-one-source-out evaluation (split.ts);
 * - its workload label is the stream, or the file for the files listed in
 *   `mergeDevicesOf` (devices that run ONE application, such as the ASUs of
 *   the WebSearch trace: the same workload as far as configuration reuse goes).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ERR_USAGE, isSsdtuneError } from '../errors.js';
import { openTrace } from '../readers/registry.js';
import type { InputOptions } from '../readers/types.js';
import { TimedTally, type TraceBatch } from '../trace/model.js';
import { describeTrace, windowStreams, type DescribedTrace } from './characterise.js';

export interface Stream {
  name: string;
  /**
   * Set on a copy of a trace replayed `timeScale` times slower (arrival gaps
   * multiplied): a different workload for tuning, since intensity changes
   * what a configuration must handle. Copies only train the network to keep
   * rates apart; they are never stored or asked about.
   */
  timeScale?: number;
  /** The trace file it comes from (the unit held out by the leave-one-source-out evaluation). */
  source: string;
  device: number;
  /** Workload label: the stream's name, or its file's when the file's devices are merged. */
  workload: string;
  windows: Float64Array[];
}

export interface LoadedTraces {
  streams: Stream[];
  /** Files not used, with the reason (unreadable, a directory). */
  skipped: { file: string; reason: string }[];
  /** Per readable file: format and request count. */
  files: { file: string; format: string; requests: number; streams: number }[];
}

/**
 * A traces directory may name the format of files the sniffer cannot tell
 * (columns that read the same in two units, such as the Heimdall MSR cuts and
 * MSNFS) in this JSON file: {"file name": "format", ...}.
 */
export const FORMATS_MANIFEST = 'formats.json';

/** The formats named in a directory's manifest (none when it has no manifest). */
export function formatsManifest(dir: string): Record<string, string> {
  const file = path.join(dir, FORMATS_MANIFEST);
  if (!existsSync(file)) return {};
  let x: unknown;
  try {
    x = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw ERR_USAGE(`${file}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof x !== 'object' || x === null || Array.isArray(x) || !Object.values(x).every((v) => typeof v === 'string')) {
    throw ERR_USAGE(`${file}: expected an object mapping trace file names to format names`);
  }
  return x as Record<string, string>;
}

/** The batches of a trace with every arrival and completion time multiplied by k (k > 1: slower). */
async function* scaledTime(batches: AsyncIterable<TraceBatch>, k: number): AsyncGenerator<TraceBatch> {
  for await (const b of batches) {
    const scale = (x: Float64Array) => x.map((t) => t * k);
    yield { ...b, timeNs: scale(b.timeNs), ...(b.issueNs ? { issueNs: scale(b.issueNs) } : {}), ...(b.completeNs ? { completeNs: scale(b.completeNs) } : {}) };
  }
}

/** The batches of a trace, each counted into `tally` as it passes. */
async function* tallied(batches: AsyncIterable<TraceBatch>, tally: TimedTally): AsyncGenerator<TraceBatch> {
  for await (const b of batches) {
    tally.add(b);
    yield b;
  }
}

export interface TraceStreams {
  /** The trace's format, as sniffed or forced. */
  format: string;
  requests: number;
  /** Requests the evaluators time (`isTimed`), and what the others are ('' when none). */
  timed: number;
  passedOver: string;
  described: DescribedTrace;
  /** Window vectors per device stream, in device order. */
  streams: { device: number; windows: Float64Array[] }[];
}

/**
 * Per-device window vectors of one trace file (of its copy `timeScale` times
 * slower, when given): the one windowing of training, `tune` and `identify`.
 */
export async function traceStreams(
  file: string,
  windowSize: number,
  format?: string,
  timeScale?: number,
  input: Pick<InputOptions, 'quoteInput'> = {},
): Promise<TraceStreams> {
  const src = await openTrace(file, { ...(format ? { format } : {}), ...input });
  // Counted in the same pass: a tune refuses a trace with nothing to time before it searches (service/tune.ts).
  const tally = new TimedTally();
  const t = await describeTrace(tallied(timeScale ? scaledTime(src, timeScale) : src, tally), { size: windowSize, splitByDevice: true, source: file });
  return { format: src.meta.format, requests: t.requests, timed: tally.timed, passedOver: tally.passedOver(), described: t, streams: windowStreams(t) };
}

export interface LoadOptions {
  /** Files whose devices count as one workload. */
  mergeDevicesOf?: readonly string[];
  /** Also load each trace replayed this many times slower, for each factor (Stream.timeScale). */
  timeScales?: readonly number[];
}

/**
 * The traces of a directory, as paths relative to it: its files, and in a
 * subdirectory each per-CPU blktrace set (`X.blktrace.0`, `X.blktrace.1`, ...),
 * named by its first file (the blktrace reader reads the whole set from it).
 * Other subdirectories are listed in `skipped`.
 */
function traceFiles(dir: string, entries: string[], skipped: LoadedTraces['skipped']): string[] {
  const out: string[] = [];
  for (const name of entries) {
    const file = path.join(dir, name);
    if (statSync(file).isFile()) {
      out.push(name);
      continue;
    }
    const sets = statSync(file).isDirectory()
      ? readdirSync(file)
          .filter((f) => /\.blktrace\.0$/.test(f))
          .sort()
      : [];
    if (sets.length === 0) skipped.push({ file: name, reason: 'not a file, nor a directory of per-CPU blktrace sets' });
    for (const f of sets) out.push(path.join(name, f));
  }
  return out;
}

/** Read every trace in `dir` into per-device streams. Unreadable files are listed, not fatal. */
export async function loadStreams(dir: string, windowSize: number, opts: LoadOptions = {}, log: (m: string) => void = () => {}): Promise<LoadedTraces> {
  const out: LoadedTraces = { streams: [], skipped: [], files: [] };
  let entries: string[];
  try {
    entries = readdirSync(dir).sort();
  } catch (e) {
    throw ERR_USAGE(`cannot list traces directory ${dir}: ${(e as Error).message}`);
  }
  const merged = new Set(opts.mergeDevicesOf ?? []);
  const formats = formatsManifest(dir);
  for (const name of traceFiles(dir, entries, out.skipped)) {
    const file = path.join(dir, name);
    if (/\.md$/i.test(name) || name === FORMATS_MANIFEST) continue;
    try {
      const t = await traceStreams(file, windowSize, formats[name]);
      const many = t.streams.length > 1;
      for (const s of t.streams) {
        const streamName = many ? `${name}#${s.device}` : name;
        out.streams.push({ name: streamName, source: name, device: s.device, workload: merged.has(name) ? name : streamName, windows: s.windows });
      }
      for (const k of opts.timeScales ?? []) {
        const v = await traceStreams(file, windowSize, formats[name], k);
        for (const s of v.streams) {
          const streamName = `${many ? `${name}#${s.device}` : name}@x${k}`;
          out.streams.push({
            name: streamName,
            source: name,
            device: s.device,
            workload: `${merged.has(name) ? name : streamName.replace(/@x.*$/, '')}@x${k}`,
            windows: s.windows,
            timeScale: k,
          });
        }
      }
      out.files.push({ file: name, format: t.format, requests: t.requests, streams: t.streams.length });
      log(`${name}: ${t.format}, ${t.requests} requests, ${t.streams.length} device stream(s) with a full window`);
    } catch (e) {
      if (!isSsdtuneError(e)) throw e;
      out.skipped.push({ file: name, reason: `${e.code}: ${e.message}` });
      log(`${name}: skipped (${e.code})`);
    }
  }
  return out;
}
