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
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { ERR_USAGE, isSsdtuneError } from '../errors.js';
import { openTrace } from '../readers/registry.js';
import { describeTrace, windowStreams } from './characterise.js';

export interface Stream {
  name: string;
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

/** Per-device window vectors of one trace file, in device order. */
export async function traceStreams(file: string, windowSize: number): Promise<{ format: string; requests: number; streams: { device: number; windows: Float64Array[] }[] }> {
  const src = await openTrace(file);
  const t = await describeTrace(src, { size: windowSize, splitByDevice: true, source: file });
  return { format: src.meta.format, requests: t.requests, streams: windowStreams(t) };
}

/** Read every trace in `dir` into per-device streams. Unreadable files are listed, not fatal. */
export async function loadStreams(dir: string, windowSize: number, mergeDevicesOf: readonly string[] = [], log: (m: string) => void = () => {}): Promise<LoadedTraces> {
  const out: LoadedTraces = { streams: [], skipped: [], files: [] };
  let entries: string[];
  try {
    entries = readdirSync(dir).sort();
  } catch (e) {
    throw ERR_USAGE(`cannot list traces directory ${dir}: ${(e as Error).message}`);
  }
  const merged = new Set(mergeDevicesOf);
  for (const name of entries) {
    const file = path.join(dir, name);
    if (!statSync(file).isFile()) {
      out.skipped.push({ file: name, reason: 'directory' });
      continue;
    }
    if (/\.md$/i.test(name)) continue;
    try {
      const t = await traceStreams(file, windowSize);
      const many = t.streams.length > 1;
      for (const s of t.streams) {
        const streamName = many ? `${name}#${s.device}` : name;
        out.streams.push({ name: streamName, source: name, device: s.device, workload: merged.has(name) ? name : streamName, windows: s.windows });
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
