/**
 * The server's side of fleet agents (`ssdtune retune --server URL` on each
 * host). An agent sends only the descriptors of its capture window, its
 * device class and what its device has; it gets back the workload and the
 * configuration to apply, which it applies itself with the host's own
 * allow-list, validation and rollback.
 *
 * - The check-and-insert of a new workload runs under one store lock (a
 *   PostgreSQL transaction-scoped advisory lock shared by every serve
 *   instance): when a hundred agents report the same new workload at once,
 *   the first creates it and the others find it. Identifying and profiling
 *   (the pass through the network) happen outside it: the lock is held for a
 *   few queries and one comparison, and reports of a workload this process
 *   is registering wait for that registration, not for the lock.
 * - What to apply: the operator's pin for the workload on this device class,
 *   else the one for every class, else the best configuration learned on
 *   this class. Pins outrank everything learned.
 * - A new workload has nothing learned yet: the agent is asked for its
 *   capture (`needs-trace`), and the search it starts is keyed by workload
 *   and device class, so however many agents upload, one search runs.
 * - The known workloads are cached per process and follow the store: when
 *   its generation of workloads moves (a write by any process), only the
 *   workloads written since are read (FollowingWorkloadStore).
 */
import type { Readable } from 'node:stream';
import { ConfDB, pinKey } from '../confdb/db.js';
import { newId } from '../confdb/ids.js';
import type { AgentRecord, ConfigRecord, JobRecord, PinRecord, TraceRecord } from '../confdb/records.js';
import { ERR_NOT_FOUND, ERR_USAGE } from '../errors.js';
import { DESCRIPTOR_VECTOR_NAMES } from '../features/descriptors.js';
import { identify, profileWorkload, type EmbeddedStreams, type Identification, type KnownWorkload } from '../ml/identify.js';
import { KnownWorkloads } from '../ml/known-workloads.js';
import type { SimilarityInfo } from '../ml/model-io.js';
import { embedOffThread } from '../ml/worker.js';
import type { Service } from './context.js';
import { ACTIVE_JOB_STATES } from './queue.js';
import { keepTraceBytes, storeUpload } from './traces.js';
import { similarityInfo } from './identify.js';
import { canonicalJson } from '../util/canonical-json.js';
import { FollowingWorkloadStore, workloadRecord } from './workload-store.js';

/** The space agents apply (block-layer attributes through sysfs). */
export const FLEET_SPACE = 'host';
/** Windows in one report, at most: enough to identify, bounded work per request. */
export const MAX_REPORT_WINDOWS = 64;

/** What makes two devices alike for tuning. */
export interface DeviceClass {
  model: string;
  capacityBytes: number;
  rotational: boolean;
  /** Hardware queues (blk-mq). */
  queues: number;
  /** Kernel release (uname -r). */
  kernel: string;
}

/** What an agent asks of the fleet's server: in practice the HttpApi of its `ssdtune serve` (the service API, src/service/api.ts). */
export interface FleetServer {
  readonly endpoint: string;
  fleetReport(r: AgentReport): Promise<Recommendation>;
  fleetCapture(workloadId: string, deviceClass: string, body: Readable, o?: { host?: string }): Promise<{ job: JobRecord; deduplicated: boolean }>;
}

/** The class key configurations are learned and pinned under: kind, model, size (GiB), queues, kernel major.minor. */
export function deviceClassKey(c: DeviceClass): string {
  const kernel = /^(\d+\.\d+)/.exec(c.kernel)?.[1] ?? c.kernel;
  return `${c.rotational ? 'rot' : 'flash'}|${c.model.trim() || '-'}|${Math.round(c.capacityBytes / 2 ** 30)}G|q${c.queues}|${kernel}`;
}

export interface AgentReport {
  host: string;
  /** Kernel name of the whole disk. */
  device: string;
  deviceClass: DeviceClass;
  /** Requests per window the descriptors were computed with (must be the model's). */
  windowSize: number;
  /** Window descriptor vectors, in DESCRIPTOR_VECTOR_NAMES order. */
  descriptors: number[][];
  /** The attributes the device has now. */
  applied: Record<string, string>;
}

export type SearchState = 'none' | 'needs-trace' | JobRecord['status'];

export interface Recommendation {
  workload: { id: string; name: string; known: boolean; created: boolean };
  deviceClass: string;
  /** What to apply; absent while nothing is pinned or learned for this workload and class. */
  config?: { id: string; values: ConfigRecord['values']; source: 'pin' | 'learned'; grade?: number };
  search: { state: SearchState; jobId?: string };
  identification: Pick<Identification, 'distance' | 'threshold' | 'confidence'>;
}

function checkReport(r: AgentReport, windowSize: number): void {
  const bad = (what: string) => {
    throw ERR_USAGE(`agent report: ${what}`);
  };
  if (typeof r.host !== 'string' || !r.host) bad('host: expected a host name');
  if (typeof r.device !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(r.device)) bad('device: expected a kernel device name');
  if (r.windowSize !== windowSize) bad(`windowSize: the server's similarity model uses windows of ${windowSize} requests, the report has ${r.windowSize}`);
  if (!Array.isArray(r.descriptors) || r.descriptors.length === 0 || r.descriptors.length > MAX_REPORT_WINDOWS)
    bad(`descriptors: expected 1 to ${MAX_REPORT_WINDOWS} windows`);
  r.descriptors.forEach((w, i) => {
    if (!Array.isArray(w) || w.length !== DESCRIPTOR_VECTOR_NAMES.length || !w.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      bad(`descriptors[${i}]: expected ${DESCRIPTOR_VECTOR_NAMES.length} finite numbers`);
    }
  });
  const c = r.deviceClass;
  if (
    !c ||
    typeof c.model !== 'string' ||
    !(c.capacityBytes >= 0) ||
    typeof c.rotational !== 'boolean' ||
    !Number.isInteger(c.queues) ||
    typeof c.kernel !== 'string'
  )
    bad('deviceClass: expected model, capacityBytes, rotational, queues, kernel');
}

/** Each process's known workloads, per store and model (the similarity model's window size and id). */
const caches = new WeakMap<ConfDB, FollowingWorkloadStore>();

/**
 * This process's registrations under way, per store: their profiles, and a
 * promise settled once each is decided. A report of a workload one of them is
 * registering waits for it and then finds it, instead of queueing on the
 * store's lock; reports of other new workloads do not wait for it at all.
 */
const registering = new WeakMap<ConfDB, Map<string, { profile: KnownWorkload; decided: Promise<void> }>>();

export function fleetSearchKey(workloadId: string, deviceClass: string): string {
  return `fleet-search:${workloadId}:${FLEET_SPACE}:${deviceClass}`;
}

/** Identify (registering a new workload: register()), pick what to apply, record the agent's status when it changed. */
export async function report(svc: Service, r: AgentReport): Promise<Recommendation> {
  const model = similarityInfo(svc.settings.modelDir);
  checkReport(r, model.meta.windowSize);
  let known = caches.get(svc.db);
  if (!known) caches.set(svc.db, (known = new FollowingWorkloadStore(model.meta.windowSize, model.id)));
  const cache = known;
  // The windows' embeddings once, on the ML worker: every identification below and a new workload's profile
  // share them. The report's windows are one device stream (ml/identify.ts). Meanwhile the known workloads
  // are brought up to date (a round trip on PostgreSQL).
  const [emb, current] = await Promise.all([embedOffThread(svc.settings.modelDir, r.descriptors), cache.known(svc.db)]);
  const embedded = [emb];
  let ident = await identify(model, [r.descriptors], { known: async () => current }, { embedded });
  let created = false;
  if (ident.kind !== 'known') ({ ident, created } = await register(svc, model, cache, r, embedded));
  // Known: the cache has its id and name (no read of the record).
  const w = ident.nearest!;
  const cls = deviceClassKey(r.deviceClass);
  // Independent reads at once: on PostgreSQL each is a round trip, and a report waits for the longest, not the sum.
  const [config, prev] = await Promise.all([recommended(svc.db, w.id, cls), svc.db.get('agents', agentKey(r))]);
  let search: Recommendation['search'] = { state: 'none' };
  if (!config) {
    const job = await svc.db.latestJobWithKey(fleetSearchKey(w.id, cls), [...ACTIVE_JOB_STATES, 'done', 'failed', 'cancelled', 'interrupted']);
    search = job ? { state: job.status, jobId: job.id } : { state: 'needs-trace' };
  }
  await noteAgent(svc.db, r, prev, w.id, cls, config?.id);
  return {
    workload: { id: w.id, name: w.name, known: !created, created },
    deviceClass: cls,
    ...(config ? { config } : {}),
    search,
    identification: { distance: ident.distance, threshold: ident.threshold, confidence: ident.confidence },
  };
}

/**
 * A workload new to this process's cache: registered unless the store has it
 * by now. The identification and the profile are made outside the store's
 * lock; under it (shared by every serve instance) only the workloads
 * registered since this process last looked are read and the embeddings
 * compared again (no second pass through the network), so registrations of
 * different workloads queue only for a few queries and one comparison.
 */
async function register(
  svc: Service,
  model: SimilarityInfo,
  cache: FollowingWorkloadStore,
  r: AgentReport,
  embedded: EmbeddedStreams,
): Promise<{ ident: Identification; created: boolean }> {
  const identifyIn = (known: () => Promise<KnownWorkloads>) => identify(model, [r.descriptors], { known }, { embedded });
  let pending = registering.get(svc.db);
  if (!pending) registering.set(svc.db, (pending = new Map()));
  const underWay = [...pending.values()];
  if (underWay.length > 0) {
    const same = await identifyIn(async () => KnownWorkloads.of(underWay.map((u) => u.profile)));
    if (same.kind === 'known') {
      await pending.get(same.nearest!.id)?.decided;
      const found = await identifyIn(() => cache.known(svc.db));
      if (found.kind === 'known') return { ident: found, created: false };
    }
  }
  const id = newId();
  const name = `${r.host}/${r.device} at ${new Date().toISOString()}`;
  const profile = profileWorkload(model, id, name, [r.descriptors], embedded);
  const w = workloadRecord(profile, {
    name,
    source: { paths: [], format: 'agent-descriptors', requests: r.descriptors.length * r.windowSize },
    windowSize: r.windowSize,
    ...(model.id ? { modelId: model.id } : {}),
  });
  let decide!: () => void;
  pending.set(id, { profile, decided: new Promise<void>((resolve) => (decide = resolve)) });
  try {
    return await svc.db.exclusive('fleet:register-workload', async (tx) => {
      const fresh = await identifyIn(() => cache.known(tx));
      if (fresh.kind === 'known') return { ident: fresh, created: false };
      await tx.batch([{ kind: 'workloads', type: 'put', value: w }, ConfDB.audit(`agent:${r.host}`, 'fleet.workload', { id, device: r.device })]);
      return { ident: { ...fresh, nearest: { id, name, distance: 0 } }, created: true };
    });
  } finally {
    pending.delete(id);
    decide();
  }
}

async function recommended(db: ConfDB, workloadId: string, cls: string): Promise<Recommendation['config']> {
  // The pin, its configuration and the learned one in one read (one statement on PostgreSQL); the pin outranks.
  const { pinned: c, best } = await db.pinnedAndBest(workloadId, FLEET_SPACE, cls);
  if (c) return { id: c.id, values: c.values, source: 'pin' };
  return best ? { id: best.id, values: best.values, source: 'learned', ...(best.grade !== undefined ? { grade: best.grade } : {}) } : undefined;
}

const agentKey = (r: AgentReport) => `${r.host}/${r.device}`;

/** The agent's status record (`prev`: as stored), written only when something in it changed. */
async function noteAgent(db: ConfDB, r: AgentReport, prev: AgentRecord | undefined, workloadId: string, deviceClass: string, configId?: string): Promise<void> {
  const same =
    prev &&
    prev.workloadId === workloadId &&
    prev.deviceClass === deviceClass &&
    prev.configId === configId &&
    canonicalJson(prev.applied) === canonicalJson(r.applied);
  if (same) return;
  await db.put('agents', {
    id: agentKey(r),
    host: r.host,
    device: r.device,
    deviceClass,
    workloadId,
    ...(configId ? { configId } : {}),
    applied: r.applied,
    at: new Date().toISOString(),
  });
}

/**
 * An agent's capture for a workload with nothing learned on its class: keep
 * it and start the search (one per workload and class, however many upload).
 */
export async function startFleetSearch(
  svc: Service,
  workloadId: string,
  deviceClass: string,
  trace: TraceRecord,
  actor: string,
  budget = 12,
): Promise<{ job: JobRecord; deduplicated: boolean }> {
  await svc.db.require('workloads', workloadId);
  const kept = svc.evaluations ? await keepTraceBytes(svc, trace) : trace;
  // The readahead model needs no device: the search runs wherever a worker is.
  const spec = {
    traceId: kept.id,
    space: FLEET_SPACE,
    evaluator: 'readahead-model',
    budget,
    seed: 1,
    replay: { mode: 'recorded' },
    fleet: { workloadId, deviceClass },
  };
  const key = fleetSearchKey(workloadId, deviceClass);
  // One search per workload and class, whichever queue: every queue's submit decides "same key: that job"
  // under a store lock all serve instances share.
  return svc.jobs.submit('tune', key, spec, actor);
}

/**
 * An agent's capture of a workload with nothing learned on its class (the
 * server answered `needs-trace`). When another agent's capture has started
 * the search already, this one is not needed: its bytes are drained unread.
 */
export async function captureForSearch(
  svc: Service,
  workloadId: string,
  deviceClass: string,
  body: Readable,
  host: string,
): Promise<{ job: JobRecord; deduplicated: boolean }> {
  const actor = `agent:${host}`;
  const running = await svc.db.latestJobWithKey(fleetSearchKey(workloadId, deviceClass), [...ACTIVE_JOB_STATES, 'done']);
  if (running) {
    body.resume();
    return { job: running, deduplicated: true };
  }
  const trace = await storeUpload(svc, body, `capture-${workloadId}`, actor);
  return startFleetSearch(svc, workloadId, deviceClass, trace, actor);
}

/** An operator's pin: this configuration for this workload, on one device class (a deviceClassKey) or, without one, on all. */
export interface PinRequest {
  workloadId: string;
  configId: string;
  deviceClass?: string;
  reason?: string;
}

export async function pinConfig(svc: Service, p: PinRequest, actor: string): Promise<PinRecord> {
  await svc.db.require('workloads', p.workloadId);
  const c = await svc.db.require('configs', p.configId);
  if (c.space !== FLEET_SPACE) throw ERR_USAGE(`configuration ${c.id} is for the ${c.space} space; agents apply ${FLEET_SPACE} configurations`);
  const cls = p.deviceClass ?? '*';
  const pin: PinRecord = {
    id: pinKey(p.workloadId, FLEET_SPACE, cls),
    workloadId: p.workloadId,
    space: FLEET_SPACE,
    deviceClass: cls,
    configId: c.id,
    by: actor,
    at: new Date().toISOString(),
    ...(p.reason ? { reason: p.reason } : {}),
  };
  await svc.db.batch([{ kind: 'pins', type: 'put', value: pin }, ConfDB.audit(actor, 'fleet.pin', { ...pin })]);
  return pin;
}

export async function unpin(svc: Service, workloadId: string, deviceClass: string | undefined, actor: string): Promise<void> {
  const id = pinKey(workloadId, FLEET_SPACE, deviceClass ?? '*');
  if (!(await svc.db.get('pins', id))) throw ERR_NOT_FOUND(`no pin ${id}`);
  await svc.db.batch([{ kind: 'pins', type: 'del', key: id }, ConfDB.audit(actor, 'fleet.unpin', { id })]);
}
