/**
 * A fleet agent: `ssdtune retune --device D --server URL` from cron or a
 * timer on each host. It captures a window of the device's I/O, sends the
 * server only the window descriptors, the device class and what the device
 * has, gets back the configuration for that workload and class, and applies
 * it itself, through the host's own allow-list, validation and rollback,
 * recording the way back in the local ConfDB first (as a local retune does).
 *
 * - The last recommendation is cached in `<dataDir>/agent/<disk>.json`; when
 *   the server cannot be reached the agent keeps working alone, holding the
 *   device to that recommendation (bpftune's "each host keeps working").
 * - An attribute an administrator changed by hand since the agent last set
 *   it is left alone (the agent remembers what it set).
 * - A new workload: the server asks for the capture, and the agent uploads it
 *   so the server can search a configuration (one search however many agents
 *   upload).
 */
import { createReadStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfDB } from '../confdb/db.js';
import type { BackendName } from '../collector/index.js';
import { resolveDevice } from '../blockdev/resolve.js';
import { readSnapshot } from '../blockdev/sysfs.js';
import { isSsdtuneError } from '../errors.js';
import { loadSimilarityInfo } from '../ml/model-io.js';
import { describeTrace } from '../ml/characterise.js';
import { openTrace } from '../readers/registry.js';
import type { Change } from '../host/applier.js';
import type { Service } from './context.js';
import { applyValues } from './devices.js';
import { MAX_REPORT_WINDOWS, type AgentReport, type FleetServer, type Recommendation } from './fleet.js';
import { deviceClassOf } from '../blockdev/device-class.js';
import { captureWindow, lockRetune, type RetuneDecision } from './retune.js';

export interface AgentOptions {
  device: string;
  windowMs: number;
  backend?: BackendName | 'auto';
  dryRun?: boolean;
  actor: string;
  /** The fleet's server, through the service API (an HttpApi with a timeout, in practice). */
  server: FleetServer;
}

interface AgentCache {
  at: string;
  server: string;
  recommendation: Recommendation;
  /** What this agent last wrote, per attribute, as the kernel reads it back. */
  lastApplied: Record<string, string>;
}

/** Up to MAX_REPORT_WINDOWS windows, evenly spread over the capture. */
function spread<T>(xs: T[], n: number): T[] {
  if (xs.length <= n) return xs;
  return Array.from({ length: n }, (_, i) => xs[Math.floor((i * xs.length) / n)]!);
}

/** The server did not answer (as opposed to answering no): the agent then works from its cache. */
function unreachable(e: unknown): boolean {
  return isSsdtuneError(e, 'SSDTUNE_SERVER_UNREACHABLE') || ((e as { statusCode?: number }).statusCode ?? 500) >= 500;
}

export async function agentRetune(svc: Service, o: AgentOptions): Promise<RetuneDecision> {
  const release = lockRetune(svc.settings.dataDir, o.device);
  const at = new Date().toISOString();
  let files: string[] = [];
  try {
    const dev = resolveDevice(o.device);
    const cacheFile = path.join(svc.settings.dataDir, 'agent', `${dev.disk.name}.json`);
    const cached = existsSync(cacheFile) ? (JSON.parse(readFileSync(cacheFile, 'utf8')) as AgentCache) : undefined;
    const cap = await captureWindow(svc.settings.dataDir, o.device, o.windowMs, o.backend ?? 'auto', at);
    files = cap.files;
    const base = { device: o.device, at, requests: cap.requests, backend: cap.backend, changes: [] as Change[] };
    const record = async (d: RetuneDecision): Promise<RetuneDecision> => {
      if (!o.dryRun) await svc.db.batch([ConfDB.audit(o.actor, 'retune.agent', d as unknown as Record<string, unknown>)]);
      return d;
    };

    let rec: Recommendation | undefined;
    let from: 'server' | 'cache' = 'server';
    let why = '';
    if (cap.requests > 0) {
      const windowSize = loadSimilarityInfo(svc.settings.modelDir).meta.windowSize;
      const described = await describeTrace(await openTrace(files[0]!), { size: windowSize, source: files[0]! });
      if (described.windows.length === 0)
        return record({ ...base, action: 'skipped', reason: `${cap.requests} requests make no full window of ${windowSize}` });
      const report: AgentReport = {
        host: os.hostname(),
        device: dev.disk.name,
        deviceClass: deviceClassOf(dev),
        windowSize,
        descriptors: spread(
          described.windows.map((w) => Array.from(w.vector)),
          MAX_REPORT_WINDOWS,
        ),
        applied: readSnapshot(dev),
      };
      try {
        rec = await o.server.fleetReport(report);
      } catch (e) {
        if (!unreachable(e)) throw e;
        why = (e as Error).message;
      }
    } else {
      why = 'no I/O in the window';
    }
    if (!rec) {
      // Working alone: hold the device to the last recommendation, if there is one.
      if (!cached?.recommendation.config) return record({ ...base, action: 'skipped', reason: `${why}; no recommendation cached yet` });
      rec = cached.recommendation;
      from = 'cache';
      why = cap.requests > 0 ? `server unreachable (${why}); kept the recommendation of ${cached.at}` : `${why}; kept the recommendation of ${cached.at}`;
    }
    const workload = { id: rec.workload.id, name: rec.workload.name, known: rec.workload.known };
    if (!rec.config) {
      // Nothing learned for this workload on this class yet: send the capture if the server asks for it.
      if (rec.search.state === 'needs-trace' && !o.dryRun) {
        const size = statSync(files[0]!).size;
        const sent = await o.server.fleetCapture(rec.workload.id, rec.deviceClass, createReadStream(files[0]!), { host: os.hostname() });
        return record({ ...base, workload, from, action: 'skipped', reason: `new workload: sent the capture (${size} bytes), search job ${sent.job.id}` });
      }
      return record({
        ...base,
        workload,
        from,
        action: 'skipped',
        reason: `nothing learned for this workload on ${rec.deviceClass} yet (search ${rec.search.state})`,
      });
    }
    // Leave alone what an administrator changed since this agent last set it.
    const now = readSnapshot(dev);
    const last = cached?.lastApplied ?? {};
    const handSet = Object.keys(rec.config.values).filter((k) => last[k] !== undefined && now[k] !== undefined && now[k] !== last[k]);
    const values = Object.fromEntries(
      Object.entries(rec.config.values)
        .filter(([k]) => !handSet.includes(k))
        .map(([k, v]) => [k, typeof v === 'boolean' ? Number(v) : (v as string | number)]),
    );
    const dry = await applyValues(svc, o.device, values, { dryRun: true, actor: o.actor });
    const decided = { ...base, workload, configId: rec.config.id, from, ...(handSet.length ? { handSet } : {}), changes: dry.changes };
    const reason = from === 'cache' ? why : `${rec.config.source === 'pin' ? 'pinned by the operator' : 'learned'} for this workload on ${rec.deviceClass}`;
    const save = (lastApplied: Record<string, string>) => {
      mkdirSync(path.dirname(cacheFile), { recursive: true });
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      writeFileSync(
        tmp,
        JSON.stringify({ at: from === 'cache' ? cached!.at : at, server: o.server.endpoint, recommendation: rec, lastApplied } satisfies AgentCache, null, 2) +
          '\n',
        { mode: 0o600 },
      );
      renameSync(tmp, cacheFile);
    };
    const kept = (snap: Record<string, string>) => ({
      ...Object.fromEntries(Object.entries(last).filter(([k]) => !handSet.includes(k))),
      ...Object.fromEntries(
        Object.keys(values)
          .filter((k) => snap[k] !== undefined)
          .map((k) => [k, snap[k]!]),
      ),
    });
    if (dry.changes.length === 0) {
      if (!o.dryRun) save(kept(now));
      return record({ ...decided, action: 'unchanged', reason: `${reason}; the device has it already` });
    }
    if (o.dryRun) return record({ ...decided, action: 'dry-run', reason: `would apply: ${reason}` });
    const applied = await applyValues(svc, o.device, values, { actor: o.actor, configId: rec.config.id });
    save(kept(readSnapshot(dev)));
    return record({ ...decided, changes: applied.changes, ...(applied.held.length ? { held: applied.held } : {}), action: 'applied', reason });
  } finally {
    for (const f of files) rmSync(f, { force: true });
    release();
  }
}
