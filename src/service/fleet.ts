/**
 * The server's side of fleet agents (`ssdtune retune --server URL` on each
 * host). An agent sends only the descriptors of its capture window, its
 * device class and what its device has; it gets back the workload and the
 * configuration to apply, which it applies itself with the host's own
 * allow-list, validation and rollback.
 *
 * - A new workload is inserted only if no workload was stored since the
 *   known workloads it was compared with (batchIfUnchanged: one statement on
 *   PostgreSQL); when another writer came first (another serve instance's
 *   registration, perhaps of the same workload), what it wrote is read and
 *   compared again. So when a hundred agents report the same new workload at
 *   once, on any number of serve instances, the first creates it and the
 *   others find it, and no lock is shared: a registration costs one round
 *   trip, where the shared lock's transaction cost eight that every
 *   instance's registrations queued for. Identifying and profiling (the pass
 *   through the network) happen before; reports of a workload this process
 *   is registering wait for that registration.
 * - During a rolling upgrade, instances of the older version register under
 *   that lock (LEGACY_REGISTER_LOCK) and insert without the condition. The
 *   statement takes the lock too, for itself: it waits for an older
 *   instance between its read and its insert, and is then refused and finds
 *   what it inserted; an older instance does not read while it inserts. So
 *   a workload reported to an old and a new instance at once is stored once.
 *   The lock is held by no one but the statement once every instance runs
 *   this version, and the statement takes the counter's row lock, which
 *   every registration shares, for as long.
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
import type { ConfigScope } from '../confdb/store.js';
import { ERR_NOT_FOUND, ERR_USAGE } from '../errors.js';
import { DESCRIPTOR_VECTOR_NAMES } from '../features/descriptors.js';
import { identify, profileWorkload, type EmbeddedStreams, type Identification, type KnownWorkload } from '../ml/identify.js';
import { KnownWorkloads } from '../ml/known-workloads.js';
import type { SimilarityInfo } from '../ml/model-io.js';
import { embedOffThread } from '../ml/worker.js';
import { standardScore, type Scaler } from '../ml/standardize.js';
import type { Service } from './context.js';
import { deviceClassKey, type DeviceClass } from '../blockdev/device-class.js';
import { ACTIVE_JOB_STATES } from './queue.js';
import { EVALUATORS, gradeScope } from './catalog.js';
import { keepTraceBytes, storeUpload } from './traces.js';
import { similarityInfo } from './identify.js';
import { canonicalJson } from '../util/canonical-json.js';
import { KeyedQueue } from '../util/keyed-queue.js';
import { FollowingWorkloadStore, workloadRecord } from './workload-store.js';

/** The space agents apply (block-layer attributes through sysfs). */
export const FLEET_SPACE = 'host';
/** How a fleet search grades (startFleetSearch): the readahead model needs no device, so any worker runs it. */
const FLEET_EVALUATOR = 'readahead-model';
const FLEET_REPLAY = { mode: 'recorded' } as const;
/**
 * The learned configurations a fleet search's grade is comparable with: graded as it grades, by the same revision
 * of its evaluator. A configuration learned by an earlier revision is not recommended; a search is asked anew.
 */
function fleetScope(settings: Service['settings']): ConfigScope {
  return { evaluator: FLEET_EVALUATOR, replay: FLEET_REPLAY, evaluatorOptions: gradeScope(FLEET_EVALUATOR, { replay: FLEET_REPLAY }, settings) };
}
/** The exclusive() lock under which instances of versions before b17991e read and insert a new workload. */
export const LEGACY_REGISTER_LOCK = 'fleet:register-workload';
/** Windows in one report, at most: enough to identify, bounded work per request. */
export const MAX_REPORT_WINDOWS = 64;

/** What an agent asks of the fleet's server: in practice the HttpApi of its `ssdtune serve` (the service API, src/service/api.ts). */
export interface FleetServer {
  readonly endpoint: string;
  fleetReport(r: AgentReport): Promise<Recommendation>;
  fleetCapture(workloadId: string, deviceClass: string, body: Readable, o?: { host?: string }): Promise<{ job: JobRecord; deduplicated: boolean }>;
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

/**
 * How far from the similarity model's training data, in its standard deviations, a reported descriptor may lie.
 * A real window lies within tens; finite values far beyond (1e308) overflowed standardisation into a 500.
 */
const MAX_STANDARD_SCORE = 1e6;

function checkReport(r: AgentReport, model: { windowSize: number; scaler: Scaler }): void {
  const windowSize = model.windowSize;
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
    w.forEach((x, j) => {
      const z = standardScore(model.scaler, j, x);
      if (!(Math.abs(z) <= MAX_STANDARD_SCORE))
        bad(`descriptors[${i}][${j}] (${DESCRIPTOR_VECTOR_NAMES[j]}): ${x} is no window's value (${z} standard deviations from the model's data)`);
    });
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
 * This process's registrations, per store. `pending`: those under way, their
 * profiles and a promise settled once each is decided; a report of a workload
 * one of them is registering waits for it and then finds it. `turns`: they
 * try to insert one at a time, each at the generation the one before left,
 * where concurrent attempts at one generation would all but one be refused
 * and go round again.
 */
const registrations = new WeakMap<ConfDB, { pending: Map<string, { profile: KnownWorkload; decided: Promise<void> }>; turns: KeyedQueue }>();

/**
 * One search per workload and class, and per revision of the fleet's evaluator: a search by an earlier revision
 * (done, its configuration no longer recommended) does not stand for one by this revision.
 */
export function fleetSearchKey(workloadId: string, deviceClass: string): string {
  const revision = EVALUATORS[FLEET_EVALUATOR].revision;
  return `fleet-search:${workloadId}:${FLEET_SPACE}:${deviceClass}${revision > 1 ? `:r${revision}` : ''}`;
}

/** Identify (registering a new workload: register()), pick what to apply, record the agent's status when it changed. */
export async function report(svc: Service, r: AgentReport): Promise<Recommendation> {
  const model = similarityInfo(svc.settings.modelDir);
  checkReport(r, model.meta);
  let known = caches.get(svc.db);
  if (!known) caches.set(svc.db, (known = new FollowingWorkloadStore(model.meta.windowSize, model.id)));
  const cache = known;
  // The windows' embeddings once, on the ML worker: every identification below and a new workload's profile
  // share them. The report's windows are one device stream (ml/identify.ts). Meanwhile the known workloads
  // are brought up to date and the agent's record read (a round trip each on PostgreSQL, at once).
  const [emb, current, prev] = await Promise.all([
    embedOffThread(svc.settings.modelDir, r.descriptors),
    cache.known(svc.db),
    svc.db.get('agents', agentKey(r)),
  ]);
  const embedded = [emb];
  let ident = await identify(model, [r.descriptors], { known: async () => current }, { embedded });
  let created = false;
  if (ident.kind !== 'known') ({ ident, created } = await register(svc, model, cache, r, embedded));
  // Known: the cache has its id and name (no read of the record).
  const w = ident.nearest!;
  const cls = deviceClassKey(r.deviceClass);
  // A workload created now has nothing pinned, learned or searched for yet: no reads to ask so.
  const config = created ? undefined : await recommended(svc, w.id, cls);
  let search: Recommendation['search'] = { state: created ? 'needs-trace' : 'none' };
  if (!config && !created) {
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
 * by now. The identification and the profile are made first; then, in this
 * process's turn, the embeddings are compared with the known workloads again
 * (no second pass through the network) and the workload inserted if none was
 * stored since they were read; if one was, it is read and compared too.
 */
async function register(
  svc: Service,
  model: SimilarityInfo,
  cache: FollowingWorkloadStore,
  r: AgentReport,
  embedded: EmbeddedStreams,
): Promise<{ ident: Identification; created: boolean }> {
  const identifyIn = (known: () => Promise<KnownWorkloads>) => identify(model, [r.descriptors], { known }, { embedded });
  let regs = registrations.get(svc.db);
  if (!regs) registrations.set(svc.db, (regs = { pending: new Map(), turns: new KeyedQueue() }));
  const { pending } = regs;
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
    return await regs.turns.run('register', async () => {
      for (;;) {
        const held = cache.held() ?? (await cache.known(svc.db), cache.held()!);
        const fresh = await identifyIn(async () => held.known);
        if (fresh.kind === 'known') return { ident: fresh, created: false };
        const ops = [{ kind: 'workloads', type: 'put', value: w } as const, ConfDB.audit(`agent:${r.host}`, 'fleet.workload', { id, device: r.device })];
        const now = await svc.db.batchIfUnchanged('workloads', held.generation, ops, { lock: LEGACY_REGISTER_LOCK });
        if (now !== undefined) {
          cache.wrote(w, held.generation, now);
          return { ident: { ...fresh, nearest: { id, name, distance: 0 } }, created: true };
        }
        // Another writer came first: follow the store to what it wrote, and compare again.
        await cache.known(svc.db);
      }
    });
  } finally {
    pending.delete(id);
    decide();
  }
}

async function recommended(svc: Service, workloadId: string, cls: string): Promise<Recommendation['config']> {
  // The pin, its configuration and the learned one in one read (one statement on PostgreSQL); the pin outranks.
  const { pinned: c, best } = await svc.db.pinnedAndBest(workloadId, FLEET_SPACE, { deviceClass: cls, ...fleetScope(svc.settings) });
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
    evaluator: FLEET_EVALUATOR,
    budget,
    seed: 1,
    replay: FLEET_REPLAY,
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
