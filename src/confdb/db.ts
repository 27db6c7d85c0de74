/**
 * The ConfDB (DESIGN.md part 10): an embedded LevelDB (classic-level) with one
 * sublevel per record kind. Writes that belong together go in one batch, so a
 * crash never leaves half of them visible. LevelDB admits one process at a
 * time; a second opener gets SSDTUNE_CONFDB_LOCKED with what to do.
 */
import { ClassicLevel } from 'classic-level';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { ERR_CONFDB_LOCKED, ERR_CONFDB_OPEN, ERR_CONFDB_SCHEMA, ERR_NOT_FOUND } from '../errors.js';
import { newId } from './ids.js';
import type { AuditRecord, ConfigRecord, DeviceRecord, EvaluationRecord, JobRecord, TraceRecord, WorkloadRecord } from './records.js';
import { MIGRATIONS, SCHEMA_VERSION } from './schema.js';

/** The part of a classic-level sublevel the ConfDB uses, with its value type. */
interface Sub<V> {
  get(key: string): Promise<V | undefined>;
  put(key: string, value: V): Promise<void>;
  values(range?: Record<string, unknown>): AsyncIterable<V>;
  keys(range?: Record<string, unknown>): AsyncIterable<string>;
  iterator(range?: Record<string, unknown>): AsyncIterable<[string, V]>;
}

export const KINDS = ['workloads', 'configs', 'evaluations', 'devices', 'jobs', 'traces', 'audit'] as const;
export type Kind = (typeof KINDS)[number];
export interface RecordOf {
  workloads: WorkloadRecord;
  configs: ConfigRecord;
  evaluations: EvaluationRecord;
  devices: DeviceRecord;
  jobs: JobRecord;
  traces: TraceRecord;
  audit: AuditRecord;
}
/** The key of each record kind. */
export const keyOf: { [K in Kind]: (r: RecordOf[K]) => string } = {
  workloads: (r) => r.id,
  configs: (r) => r.id,
  evaluations: (r) => r.id,
  devices: (r) => r.device,
  jobs: (r) => r.id,
  traces: (r) => r.id,
  audit: (r) => r.id,
};

/** One write in a batch: put a record of a kind, or delete a key. */
export type BatchOp = { [K in Kind]: { kind: K; type: 'put'; value: RecordOf[K] } | { kind: K; type: 'del'; key: string } }[Kind];

export interface ListOptions {
  limit?: number;
  /** Start after this key (pagination). */
  after?: string;
  reverse?: boolean;
}

export class ConfDB {
  /** Bumped on every write to a kind, so readers can cache what they derived from it. */
  private readonly generations = new Map<Kind, number>();

  private constructor(
    readonly location: string,
    private readonly db: ClassicLevel<string, unknown>,
    private readonly subs: { [K in Kind]: Sub<RecordOf[K]> },
    private readonly meta: Sub<unknown>,
  ) {}

  static async open(dataDir: string): Promise<ConfDB> {
    const location = path.join(dataDir, 'confdb');
    try {
      mkdirSync(location, { recursive: true });
    } catch (e) {
      throw ERR_CONFDB_OPEN(location, (e as Error).message);
    }
    const db = new ClassicLevel<string, unknown>(location, { valueEncoding: 'json' });
    try {
      await db.open();
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause;
      if (cause?.code === 'LEVEL_LOCKED') throw ERR_CONFDB_LOCKED(location);
      throw ERR_CONFDB_OPEN(location, (cause as Error | undefined)?.message ?? (e as Error).message);
    }
    const sub = (name: string) => db.sublevel<string, unknown>(name, { valueEncoding: 'json' }) as never;
    const subs = Object.fromEntries(KINDS.map((k) => [k, sub(k)])) as unknown as { [K in Kind]: Sub<RecordOf[K]> };
    const conf = new ConfDB(location, db, subs, sub('meta'));
    await conf.migrate();
    return conf;
  }

  /** Bring the stored schema to SCHEMA_VERSION in one batch; refuse a newer one. */
  private async migrate(): Promise<void> {
    const stored = (await this.meta.get('schema')) as number | undefined;
    if (stored === undefined) {
      await this.meta.put('schema', SCHEMA_VERSION);
      return;
    }
    if (stored > SCHEMA_VERSION) throw ERR_CONFDB_SCHEMA(this.location, stored, SCHEMA_VERSION);
    for (let v = stored; v < SCHEMA_VERSION; v++) {
      const ops = await MIGRATIONS[v](this);
      await this.batch([...ops]);
      await this.meta.put('schema', v + 1);
    }
  }

  async schemaVersion(): Promise<number> {
    return (await this.meta.get('schema')) as number;
  }

  async get<K extends Kind>(kind: K, key: string): Promise<RecordOf[K] | undefined> {
    return (await this.subs[kind].get(key)) as RecordOf[K] | undefined;
  }

  /** Like get, but a missing record is a coded not-found error. */
  async require<K extends Kind>(kind: K, key: string): Promise<RecordOf[K]> {
    const r = await this.get(kind, key);
    if (r === undefined) throw ERR_NOT_FOUND(`no ${kind.replace(/s$/, '')} with id ${key}`);
    return r;
  }

  async list<K extends Kind>(kind: K, opts: ListOptions = {}): Promise<RecordOf[K][]> {
    const out: RecordOf[K][] = [];
    const range: Record<string, unknown> = { limit: opts.limit ?? -1, reverse: opts.reverse ?? false };
    if (opts.after !== undefined) range[opts.reverse ? 'lt' : 'gt'] = opts.after;
    for await (const v of this.subs[kind].values(range)) out.push(v as RecordOf[K]);
    return out;
  }

  async count(kind: Kind): Promise<number> {
    let n = 0;
    for await (const _ of this.subs[kind].keys()) n++;
    return n;
  }

  /**
   * Apply writes atomically (one LevelDB batch). `sync` waits until the batch
   * is on disk (fdatasync), for records that must survive a power loss, not
   * only a crash of this process: the way back to a device's settings.
   */
  async batch(ops: BatchOp[], o: { sync?: boolean } = {}): Promise<void> {
    if (ops.length === 0) return;
    const chained = this.db.batch();
    for (const op of ops) {
      const sub = this.subs[op.kind] as unknown as ClassicLevel<string, unknown>;
      if (op.type === 'put') chained.put(keyOf[op.kind](op.value as never), op.value, { sublevel: sub as never });
      else chained.del(op.key, { sublevel: sub as never });
    }
    await chained.write({ sync: o.sync ?? false });
    for (const op of ops) this.generations.set(op.kind, (this.generations.get(op.kind) ?? 0) + 1);
  }

  /** Changes whenever a record of `kind` is written by this process (the only one: LevelDB is single-process). */
  generation(kind: Kind): number {
    return this.generations.get(kind) ?? 0;
  }

  async put<K extends Kind>(kind: K, value: RecordOf[K]): Promise<void> {
    await this.batch([{ kind, type: 'put', value } as BatchOp]);
  }

  /** An audit record to add to the batch of the change it describes. */
  static audit(actor: string, action: string, details: Record<string, unknown>): BatchOp {
    return { kind: 'audit', type: 'put', value: { id: newId(), at: new Date().toISOString(), actor, action, details } };
  }

  async compact(): Promise<void> {
    await this.db.compactRange('\x00', '\xff');
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  /** Raw access to a kind's entries, in key order (export, migrations). */
  async *entries(kind: Kind): AsyncGenerator<[string, unknown]> {
    for await (const e of this.subs[kind].iterator()) yield e as [string, unknown];
  }
}
