/**
 * Retuning a live device (cron, systemd timer, or the server's schedule):
 * capture a window of its I/O with the collector, identify the workload
 * (learning a host configuration within a budget when it is new), and apply
 * the workload's configuration when it differs from what the device has.
 * A lock file keeps two runs for one device from overlapping; running it
 * twice in a row on the same workload changes nothing the second time.
 */
import { longTimeout } from '../util/long-timer.js';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ConfDB } from '../confdb/db.js';
import { openCollector, type BackendName } from '../collector/index.js';
import { ERR_CONFLICT } from '../errors.js';
import type { Change } from '../host/applier.js';
import type { RetuneDecision } from './retune-decision.js';

export { decisionLine, type RetuneDecision } from './retune-decision.js';
import { acquirePidLock } from '../util/pid-lock.js';
import { writeBlktrace } from '../writers/blktrace.js';
import type { Service } from './context.js';
import { applyValues } from './devices.js';
import { tune } from './tune.js';
import { resolveTuneArgs } from './tune-spec.js';

export interface RetuneOptions {
  device: string;
  windowMs: number;
  /** Evaluations when the workload is new. */
  budget: number;
  backend?: BackendName | 'auto';
  /** Decide and report; write nothing (no sysfs write, no ConfDB record, not even the audit line). */
  dryRun?: boolean;
  actor: string;
}

/** `<dataDir>/locks/retune-<dev>.lock`: one retune per device at a time (fleet agents included). */
export function lockRetune(dataDir: string, device: string): () => void {
  const file = path.join(dataDir, 'locks', `retune-${path.basename(device)}.lock`);
  return acquirePidLock(file, (owner) => ERR_CONFLICT(`another retune of ${device} is running (pid ${owner}, lock ${file})`), 0o600);
}

export interface Capture {
  /** blktrace files of the window (the caller removes them). */
  files: string[];
  requests: number;
  backend: string;
}

/** Capture `windowMs` of a device's I/O into `<dataDir>/captures/` as blktrace files. */
export async function captureWindow(dataDir: string, device: string, windowMs: number, backend: BackendName | 'auto', at: string): Promise<Capture> {
  const capDir = path.join(dataDir, 'captures');
  mkdirSync(capDir, { recursive: true });
  const prefix = path.join(capDir, `${path.basename(device)}-${at.replace(/[:.]/g, '-')}`);
  const { collector, choice } = await openCollector(device, { backend });
  // Beyond 2^31-1 ms setTimeout fires at once: a long window must wait its length.
  const timer = longTimeout(() => void collector.stop(), windowMs);
  try {
    const files = (await writeBlktrace(collector, prefix)).files;
    return { files, requests: collector.stats().events, backend: choice };
  } finally {
    timer.cancel();
    await collector.stop();
  }
}

export async function retune(svc: Service, o: RetuneOptions): Promise<RetuneDecision> {
  const release = lockRetune(svc.settings.dataDir, o.device);
  const at = new Date().toISOString();
  let files: string[] = [];
  try {
    const cap = await captureWindow(svc.settings.dataDir, o.device, o.windowMs, o.backend ?? 'auto', at);
    files = cap.files;
    const requests = cap.requests;
    const base = { device: o.device, at, requests, backend: cap.backend, changes: [] as Change[] };
    const record = async (d: RetuneDecision): Promise<RetuneDecision> => {
      if (!o.dryRun) await svc.db.batch([ConfDB.audit(o.actor, 'retune', d as unknown as Record<string, unknown>)]);
      return d;
    };
    if (requests === 0) return record({ ...base, action: 'skipped', reason: 'no I/O in the window' });
    let result;
    try {
      const { spec } = resolveTuneArgs(
        { space: 'host', evaluator: 'readahead-model', budget: o.budget, name: `${path.basename(o.device)} at ${at}` },
        svc.settings,
      );
      result = await tune(svc, { spec, tracePath: files[0]! }, { dryRun: !!o.dryRun });
    } catch (e) {
      // Too few requests to describe, or none to time (an idle filesystem's window may hold only flushes): nothing to learn.
      const code = (e as { code?: string }).code;
      if (code === 'SSDTUNE_FEATURES_TOO_SHORT' || code === 'SSDTUNE_TRACE_UNTIMED')
        return record({ ...base, action: 'skipped', reason: (e as Error).message });
      throw e;
    }
    const workload = { id: result.workload.id, name: result.workload.name, known: result.workload.known };
    // On a dry run a new workload's configuration was not stored: apply (dry) its values, not its id.
    const values = Object.fromEntries(Object.entries(result.config.values).map(([k, v]) => [k, typeof v === 'boolean' ? Number(v) : v]));
    const dry = await applyValues(svc, o.device, values, { dryRun: true, actor: o.actor });
    const decided = { ...base, workload, configId: result.config.id, changes: dry.changes };
    if (dry.changes.length === 0) return record({ ...decided, action: 'unchanged', reason: "the device already has this workload's configuration" });
    if (o.dryRun)
      return record({
        ...decided,
        action: 'dry-run',
        reason: workload.known ? "would apply the known workload's stored configuration" : 'would apply a configuration learned now (not stored)',
      });
    const applied = await applyValues(svc, o.device, values, { actor: o.actor, configId: result.config.id });
    return record({
      ...decided,
      changes: applied.changes,
      ...(applied.held.length ? { held: applied.held } : {}),
      action: 'applied',
      reason: workload.known ? 'known workload, its stored configuration' : 'new workload, configuration learned now',
    });
  } finally {
    for (const f of files) rmSync(f, { force: true });
    release();
  }
}
