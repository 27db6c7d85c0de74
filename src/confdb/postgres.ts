/**
 * The shared ConfDB engine: PostgreSQL through `pg`, chosen with
 * SSDTUNE_STORE=postgres://user:pass@host:port/db. One table per record kind
 * (`id text COLLATE "C"` so keys sort as LevelDB sorts them, `doc jsonb`),
 * with expression indexes for the named queries. A batch is one transaction;
 * a generation counter per kind, bumped in the same transaction, tells every
 * process sharing the store when its caches are stale. A workload row keeps
 * the generation that wrote it (`gen`); the bump comes first in its
 * transaction and holds the counter's row lock until commit, so writers of
 * workloads commit in generation order and "rows with gen > G" is exactly
 * what a reader that saw G has not seen (how the agents' workload cache
 * follows the store). Transient failures
 * (the server restarting, a dropped connection) are retried for a while
 * rather than failing the caller: every write here is an upsert, a delete or
 * an insert-if-absent, so running one again is harmless.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';
import { ERR_CONFDB_BUSY, ERR_CONFDB_NESTED_LOCK, ERR_CONFDB_OPEN, ERR_CONFDB_UNAVAILABLE } from '../errors.js';
import { KeyedQueue } from '../util/keyed-queue.js';
import { StoreBase, type BlobMark } from './base.js';
import type { ConfDB, ConfigScope, PinnedAndBest, WorkloadsSince } from './store.js';
import { KINDS, keyOf, pinKey, type BatchOp, type Kind, type ListOptions, type RecordOf } from './kinds.js';
import type { ConfigRecord, EvaluationRecord, JobRecord, JobStatus, PinRecord, TraceRecord, WorkloadRecord } from './records.js';

const table = (k: Kind) => `ssdtune_${k}`;

/** The exclusive() lock this async context is inside, while it is held (see exclusive). */
const holding = new AsyncLocalStorage<{ pool: pg.Pool; lock: string; held: boolean }>();

/**
 * Kinds whose rows keep the generation that wrote them, for readers that follow
 * the store by "what changed since" (workloadsSince). Their writers commit one
 * at a time; the other kinds' writers only meet at their commits.
 */
const FOLLOWED = new Set<Kind>(['workloads']);

/** Indexes behind the named queries. */
const INDEXES = [
  `CREATE INDEX IF NOT EXISTS ssdtune_configs_best ON ssdtune_configs ((doc->>'workloadId'), (doc->>'space'), ((doc->>'grade')::float8) DESC) WHERE doc ? 'grade'`,
  `CREATE INDEX IF NOT EXISTS ssdtune_workloads_window_size ON ssdtune_workloads (window_size)`,
  `CREATE INDEX IF NOT EXISTS ssdtune_workloads_gen ON ssdtune_workloads (gen)`,
  `CREATE INDEX IF NOT EXISTS ssdtune_jobs_key ON ssdtune_jobs ((doc->>'key'), id)`,
  `CREATE INDEX IF NOT EXISTS ssdtune_jobs_status ON ssdtune_jobs ((doc->>'status'))`,
  `CREATE INDEX IF NOT EXISTS ssdtune_traces_path ON ssdtune_traces ((doc->>'path'))`,
  `CREATE INDEX IF NOT EXISTS ssdtune_traces_sha256 ON ssdtune_traces ((doc->>'sha256'))`,
  `CREATE INDEX IF NOT EXISTS ssdtune_evaluations_workload ON ssdtune_evaluations ((doc->>'workloadId'))`,
];

/**
 * The best-graded configuration of workload $1 in space $2, in a scope (bestConfig): unless NULL,
 * on device class $3, graded by evaluator $4, measured on site $5, at replay intensity $6, with
 * evaluator options $7 (jsonb equality: key order and 10 against 10.0 do not matter; an absent
 * replay is recorded, as sameReplay; absent options are none).
 */
const BEST_CONFIG = `SELECT doc FROM ssdtune_configs WHERE doc->>'workloadId' = $1 AND doc->>'space' = $2 AND doc ? 'grade'
    AND ($3::text IS NULL OR doc->>'deviceClass' = $3)
    AND ($4::text IS NULL OR doc->>'evaluator' = $4)
    AND ($5::text IS NULL OR doc->'measuredOn'->>'key' = $5)
    AND ($6::jsonb IS NULL OR COALESCE(doc->'replay', '{"mode":"recorded"}'::jsonb) = $6::jsonb)
    AND ($7::jsonb IS NULL OR COALESCE(doc->'evaluatorOptions', '{}'::jsonb) = $7::jsonb)
  ORDER BY (doc->>'grade')::float8 DESC, id LIMIT 1`;

/** BEST_CONFIG's parameters after the workload and the space. */
const scopeParams = (s: ConfigScope): (string | null)[] => [
  s.deviceClass ?? null,
  s.evaluator ?? null,
  s.measuredOn ?? null,
  s.replay ? JSON.stringify(s.replay) : null,
  s.evaluatorOptions ? JSON.stringify(s.evaluatorOptions) : null,
];

/** The first of the pins with the keys in parameter `keys` (the class's own, then the one for every class): pinFor. */
const pinForSql = (keys: string): string =>
  `SELECT doc FROM ssdtune_pins WHERE id = ANY(${keys}::text[]) ORDER BY array_position(${keys}::text[], id::text) LIMIT 1`;

/** pinFor's keys, the device class's own pin first. */
const pinKeys = (workloadId: string, space: string, deviceClass?: string): string[] =>
  deviceClass !== undefined ? [pinKey(workloadId, space, deviceClass), pinKey(workloadId, space)] : [pinKey(workloadId, space)];

/** Key of the advisory lock taken while creating or migrating the schema. */
const SCHEMA_LOCK = 'ssdtune:schema';

/** SQLSTATE classes and codes worth retrying: connection failures, shutdowns, serialization. */
function transient(e: unknown): boolean {
  const code = (e as { code?: string }).code ?? '';
  // 25P03: the server ended a session idle in its transaction (PG_LIMITS): the transaction is run again whole.
  if (/^(08|57P)/.test(code) || code === '40001' || code === '40P01' || code === '53300' || code === '25P03') return true;
  const msg = (e as Error).message ?? '';
  return (
    ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT'].includes(code) ||
    /Connection terminated|terminating connection|not yet accepting|the database system is (starting|shutting)|encountered a connection error and is not queryable/i.test(
      msg,
    )
  );
}

/** PostgreSQL's lock_not_available: lock_timeout ended a wait. */
const LOCK_NOT_AVAILABLE = '55P03';

/**
 * A process that stalls while it holds a lock (stopped, swapped out, cut off by a partition with its connection
 * still open) would hold every other instance's writes behind it until TCP gives up, hours later. So the server
 * ends a session left idle inside a transaction for `idleInTransactionMs` (its lock goes with it; when the holder
 * wakes, its transaction fails as after any lost connection: run again whole within `retryMs` of its start, else
 * SSDTUNE_CONFDB_UNAVAILABLE), and a wait for a lock ends after `lockWaitMs` as SSDTUNE_CONFDB_BUSY: an instance of an
 * older version, which sets no such limit, may hold one for ever. Every lock ssdtune takes is held for milliseconds,
 * so neither limit is met in normal work. `retryMs` is how long a transient failure (a restarting server, a lost
 * connection) is retried before it reaches the caller, coded.
 */
export const PG_LIMITS = { idleInTransactionMs: 20_000, lockWaitMs: 60_000, retryMs: 30_000 };

type Exec = Pick<pg.PoolClient, 'query'>;

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

export class PgStore extends StoreBase implements ConfDB {
  readonly shared = true;

  private constructor(
    readonly location: string,
    private readonly pool: pg.Pool,
    /**
     * Connections that wait for and hold exclusive() locks. Apart from the
     * main pool: a holder may use the store outside its transaction, which
     * must not wait behind connections parked on the lock it holds.
     */
    private readonly lockPool: pg.Pool,
    /** PG_LIMITS as opened. */
    private readonly limits: typeof PG_LIMITS,
    /** Inside exclusive(): the transaction's client; writes commit with it. */
    private readonly tx?: Exec,
  ) {
    super();
  }

  /** The named locks' in-process queues (the root store's; a transaction's view takes locks on its own connection). */
  private readonly turns = new KeyedQueue();

  static async open(url: string, opts: { poolSize?: number; limits?: Partial<typeof PG_LIMITS> } = {}): Promise<PgStore> {
    const location = redactUrl(url);
    const limits = { ...PG_LIMITS, ...opts.limits };
    const options = `-c idle_in_transaction_session_timeout=${limits.idleInTransactionMs} -c lock_timeout=${limits.lockWaitMs}`;
    const pool = new pg.Pool({ connectionString: url, max: opts.poolSize ?? 8, idleTimeoutMillis: 10_000, options });
    const lockPool = new pg.Pool({ connectionString: url, max: opts.poolSize ?? 8, idleTimeoutMillis: 10_000, options });
    // An idle connection dropped by a restarting server must not crash the process; the next query reconnects.
    pool.on('error', () => {});
    lockPool.on('error', () => {});
    const store = new PgStore(location, pool, lockPool, limits);
    try {
      await store.transaction(async (c) => {
        // Another instance creating or migrating the schema is waited for, however long it takes.
        await c.query('SET LOCAL lock_timeout = 0');
        await c.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [SCHEMA_LOCK]);
        await c.query('CREATE TABLE IF NOT EXISTS ssdtune_meta (name text PRIMARY KEY, value jsonb NOT NULL)');
        await c.query('CREATE TABLE IF NOT EXISTS ssdtune_generations (kind text PRIMARY KEY, n bigint NOT NULL)');
        for (const k of KINDS) {
          await c.query(`CREATE TABLE IF NOT EXISTS ${table(k)} (id text COLLATE "C" PRIMARY KEY, doc jsonb NOT NULL, gen bigint NOT NULL DEFAULT 0)`);
          // Stores made before rows kept their generation: theirs read as 0, older than any reader's.
          await c.query(`ALTER TABLE ${table(k)} ADD COLUMN IF NOT EXISTS gen bigint NOT NULL DEFAULT 0`);
          await c.query('INSERT INTO ssdtune_generations (kind, n) VALUES ($1, 0) ON CONFLICT DO NOTHING', [k]);
        }
        // A workload's window size as a column of its own: the followers count the workloads of a window
        // size after every registration, and reading it out of each row's document took 20-40 ms at 10k
        // rows (a sequential scan parsing every jsonb); from the column's index it is under 1 ms.
        await c.query(`ALTER TABLE ssdtune_workloads ADD COLUMN IF NOT EXISTS window_size int GENERATED ALWAYS AS ((doc->>'windowSize')::int) STORED`);
        await c.query('DROP INDEX IF EXISTS ssdtune_workloads_window');
        await c.query(
          'CREATE TABLE IF NOT EXISTS ssdtune_blob_chunks (digest text NOT NULL, seq int NOT NULL, data bytea NOT NULL, PRIMARY KEY (digest, seq))',
        );
        await c.query('CREATE TABLE IF NOT EXISTS ssdtune_blobs (digest text PRIMARY KEY, bytes bigint NOT NULL, chunks int NOT NULL)');
        for (const sql of INDEXES) await c.query(sql);
      }, 0);
      await store.migrate();
    } catch (e) {
      await pool.end().catch(() => {});
      await lockPool.end().catch(() => {});
      if ((e as { code?: string }).code?.startsWith('SSDTUNE_')) throw e;
      throw ERR_CONFDB_OPEN(location, (e as Error).message);
    }
    return store;
  }

  /** Run a statement, retrying transient failures outside a transaction. */
  private async q<R extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
    if (this.tx) return this.tx.query<R>(sql, params);
    return this.retrying(() => this.pool.query<R>(sql, params), this.limits.retryMs);
  }

  private async retrying<T>(fn: () => Promise<T>, budgetMs: number): Promise<T> {
    const until = Date.now() + budgetMs;
    for (let delay = 50; ; delay = Math.min(delay * 2, 1000)) {
      try {
        return await fn();
      } catch (e) {
        if ((e as { code?: string }).code === LOCK_NOT_AVAILABLE)
          throw ERR_CONFDB_BUSY(
            this.location,
            `a lock was held by another process for more than ${Math.round(this.limits.lockWaitMs / 1000)} s (an instance that stalled holding it?)`,
          );
        if (!transient(e)) throw e;
        // Retried for as long as the budget allows; then the caller gets a code it can act on (a 503 over REST,
        // a fleet worker's "not the configuration's fault"), not the driver's bare message. A budget of 0 is open()'s
        // schema transaction, which reports SSDTUNE_CONFDB_OPEN.
        if (Date.now() + delay > until) throw budgetMs > 0 ? ERR_CONFDB_UNAVAILABLE(this.location, (e as Error).message, Math.round(budgetMs / 1000)) : e;
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /** BEGIN ... COMMIT on one client (or inside the current transaction), retried whole on a transient failure. */
  private async transaction<T>(fn: (c: Exec) => Promise<T>, budgetMs = this.limits.retryMs, pool = this.pool): Promise<T> {
    if (this.tx) return fn(this.tx);
    return this.retrying(async () => {
      const client = await pool.connect();
      let broken = false;
      // The server may end a session between our statements (a restart, its idle-in-transaction limit): the client
      // then emits 'error', which unheard would end the process. The next statement fails, and is retried.
      const ended = () => (broken = true);
      client.on('error', ended);
      try {
        await client.query('BEGIN');
        const out = await fn(client);
        await client.query('COMMIT');
        return out;
      } catch (e) {
        broken = transient(e);
        await client.query('ROLLBACK').catch(() => {
          broken = true;
        });
        throw e;
      } finally {
        client.off('error', ended);
        client.release(broken);
      }
    }, budgetMs);
  }

  protected async readSchema(): Promise<number | undefined> {
    const r = await this.q<{ value: number }>(`SELECT value FROM ssdtune_meta WHERE name = 'schema'`);
    return r.rows[0]?.value;
  }
  protected async writeSchema(v: number): Promise<void> {
    await this.q(`INSERT INTO ssdtune_meta (name, value) VALUES ('schema', $1::jsonb) ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value`, [
      JSON.stringify(v),
    ]);
  }

  protected async putBlobChunk(digest: string, seq: number, data: Buffer): Promise<void> {
    await this.q('INSERT INTO ssdtune_blob_chunks (digest, seq, data) VALUES ($1, $2, $3) ON CONFLICT (digest, seq) DO UPDATE SET data = EXCLUDED.data', [
      digest,
      seq,
      data,
    ]);
  }
  protected async getBlobChunk(digest: string, seq: number): Promise<Buffer | undefined> {
    return (await this.q<{ data: Buffer }>('SELECT data FROM ssdtune_blob_chunks WHERE digest = $1 AND seq = $2', [digest, seq])).rows[0]?.data;
  }
  protected async putBlobMark(digest: string, mark: BlobMark): Promise<void> {
    await this.q('INSERT INTO ssdtune_blobs (digest, bytes, chunks) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [digest, mark.bytes, mark.chunks]);
  }
  protected async countBlobChunks(digest: string): Promise<number> {
    return Number((await this.q<{ n: string }>('SELECT count(*) AS n FROM ssdtune_blob_chunks WHERE digest = $1', [digest])).rows[0]?.n ?? 0);
  }
  /** The mark and the chunks in one statement: atomic by itself, and inside the blob lock's transaction when there. */
  protected async deleteBlobParts(digest: string): Promise<void> {
    await this.q('WITH m AS (DELETE FROM ssdtune_blobs WHERE digest = $1) DELETE FROM ssdtune_blob_chunks WHERE digest = $1', [digest]);
  }
  protected async getBlobMark(digest: string): Promise<BlobMark | undefined> {
    const r = await this.q<{ bytes: string; chunks: number }>('SELECT bytes, chunks FROM ssdtune_blobs WHERE digest = $1', [digest]);
    return r.rows[0] ? { bytes: Number(r.rows[0].bytes), chunks: r.rows[0].chunks } : undefined;
  }

  async get<K extends Kind>(kind: K, key: string): Promise<RecordOf[K] | undefined> {
    const r = await this.q<{ doc: RecordOf[K] }>(`SELECT doc FROM ${table(kind)} WHERE id = $1`, [key]);
    return r.rows[0]?.doc;
  }

  async list<K extends Kind>(kind: K, opts: ListOptions = {}): Promise<RecordOf[K][]> {
    const dir = opts.reverse ? 'DESC' : 'ASC';
    const cmp = opts.reverse ? '<' : '>';
    const limit = opts.limit === undefined || opts.limit < 0 ? null : opts.limit;
    const r = await this.q<{ doc: RecordOf[K] }>(`SELECT doc FROM ${table(kind)} WHERE ($1::text IS NULL OR id ${cmp} $1) ORDER BY id ${dir} LIMIT $2`, [
      opts.after ?? null,
      limit,
    ]);
    return r.rows.map((row) => row.doc);
  }

  async count(kind: Kind): Promise<number> {
    const r = await this.q<{ n: string }>(`SELECT count(*) AS n FROM ${table(kind)}`);
    return Number(r.rows[0]?.n ?? 0);
  }

  /**
   * One transaction. Consecutive writes of one kind and type go in one
   * statement (the last write of a key in a run wins, as it would applied
   * one by one); the kinds' generations move in the same transaction. A
   * commit is durable (synchronous_commit), so `sync` asks nothing more.
   */
  async batch(ops: BatchOp[], _o: { sync?: boolean } = {}): Promise<void> {
    if (ops.length === 0) return;
    const runs: { kind: Kind; type: 'put' | 'del'; items: Map<string, unknown> }[] = [];
    for (const op of ops) {
      let run = runs.at(-1);
      if (!run || run.kind !== op.kind || run.type !== op.type) runs.push((run = { kind: op.kind, type: op.type, items: new Map() }));
      const key = op.type === 'put' ? keyOf[op.kind](op.value as never) : op.key;
      run.items.delete(key);
      run.items.set(key, op.type === 'put' ? JSON.stringify(op.value) : null);
    }
    if (runs.length === 1 && !this.tx) return this.oneStatement(runs[0]!);
    const kinds = [...new Set(ops.map((o) => o.kind))];
    const followed = kinds.filter((k) => FOLLOWED.has(k));
    await this.transaction(async (c) => {
      // A followed kind's counter first (see the file's comment): its writers then commit one at a time.
      const bumped = followed.length
        ? await c.query<{ kind: Kind; n: string }>('UPDATE ssdtune_generations SET n = n + 1 WHERE kind = ANY($1::text[]) RETURNING kind, n', [followed])
        : { rows: [] };
      const gen = new Map(bumped.rows.map((r) => [r.kind, r.n]));
      for (const run of runs) {
        const keys = [...run.items.keys()];
        if (run.type === 'put') {
          await c.query(
            `INSERT INTO ${table(run.kind)} (id, doc, gen) SELECT id, doc, $3 FROM unnest($1::text[], $2::jsonb[]) AS u(id, doc) ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc, gen = EXCLUDED.gen`,
            [keys, [...run.items.values()], gen.get(run.kind) ?? '0'],
          );
        } else {
          await c.query(`DELETE FROM ${table(run.kind)} WHERE id = ANY($1::text[])`, [keys]);
        }
      }
      // The other kinds' counters last: their row locks are held only for the commit.
      const rest = kinds.filter((k) => !FOLLOWED.has(k));
      if (rest.length) await c.query('UPDATE ssdtune_generations SET n = n + 1 WHERE kind = ANY($1::text[])', [rest]);
    });
  }

  /**
   * A batch of one kind and type outside a transaction (an agent's status, a
   * job's progress): one statement, atomic by itself, so one round trip
   * instead of BEGIN, write, counter, COMMIT. A followed kind's counter moves
   * in the same statement and its rows take the new generation, as in batch().
   */
  private async oneStatement(run: { kind: Kind; type: 'put' | 'del'; items: Map<string, unknown> }): Promise<void> {
    const keys = [...run.items.keys()];
    const t = table(run.kind);
    const bump = 'UPDATE ssdtune_generations SET n = n + 1 WHERE kind = $3 RETURNING n';
    if (run.type === 'put') {
      const upsert = `ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc, gen = EXCLUDED.gen`;
      await this.q(
        FOLLOWED.has(run.kind)
          ? `WITH gen AS (${bump}) INSERT INTO ${t} (id, doc, gen) SELECT u.id, u.doc, gen.n FROM unnest($1::text[], $2::jsonb[]) AS u(id, doc), gen ${upsert}`
          : `WITH ins AS (INSERT INTO ${t} (id, doc, gen) SELECT id, doc, 0 FROM unnest($1::text[], $2::jsonb[]) AS u(id, doc) ${upsert}) ${bump}`,
        [keys, [...run.items.values()], run.kind],
      );
    } else {
      await this.q(`WITH d AS (DELETE FROM ${t} WHERE id = ANY($1::text[])) ${bump.replace('$3', '$2')}`, [keys, run.kind]);
    }
  }

  /**
   * One statement: `kind`'s counter moves only if it is still at `generation`
   * (re-checked against the committed row when another writer held it: a
   * compare-and-set under READ COMMITTED), and every write is joined to that
   * move, so all of them happen or none. Each kind's writes are folded to the
   * last per key first, so no row is touched twice in the statement.
   * `o.lock` (store.ts) is the advisory lock exclusive() takes, taken in the
   * counter's condition: before the counter's row lock, as an exclusive()
   * holder takes them, so the two orders never cross.
   */
  async batchIfUnchanged(kind: Kind, generation: number, ops: BatchOp[], o: { lock?: string } = {}): Promise<number | undefined> {
    const byKind = new Map<Kind, Map<string, string | null>>();
    for (const op of ops) {
      let m = byKind.get(op.kind);
      if (!m) byKind.set(op.kind, (m = new Map()));
      const key = op.type === 'put' ? keyOf[op.kind](op.value as never) : op.key;
      m.delete(key);
      m.set(key, op.type === 'put' ? JSON.stringify(op.value) : null);
    }
    const params: unknown[] = [kind, generation];
    const p = (v: unknown) => `$${params.push(v)}`;
    const ctes = o.lock ? [`l AS (SELECT pg_advisory_xact_lock(hashtextextended(${p(o.lock)}, 0)))`] : [];
    ctes.push(`g AS (UPDATE ssdtune_generations SET n = n + 1 WHERE kind = $1 AND n = $2${o.lock ? ' AND EXISTS (SELECT 1 FROM l)' : ''} RETURNING n)`);
    let i = 0;
    for (const [k, m] of byKind) {
      i++;
      // Every kind written moves its counter too, only when the condition held (a row from g).
      const gen = k === kind ? 'g' : `g${i}`;
      if (k !== kind) ctes.push(`${gen} AS (UPDATE ssdtune_generations SET n = n + 1 WHERE kind = ${p(k)} AND EXISTS (SELECT 1 FROM g) RETURNING n)`);
      const puts = [...m].filter(([, doc]) => doc !== null);
      const dels = [...m].filter(([, doc]) => doc === null).map(([key]) => key);
      if (puts.length)
        ctes.push(
          `p${i} AS (INSERT INTO ${table(k)} (id, doc, gen) SELECT u.id, u.doc, ${FOLLOWED.has(k) ? `${gen}.n` : '0'}
             FROM unnest(${p(puts.map(([key]) => key))}::text[], ${p(puts.map(([, doc]) => doc))}::jsonb[]) AS u(id, doc), ${gen}
             ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc, gen = EXCLUDED.gen)`,
        );
      if (dels.length) ctes.push(`d${i} AS (DELETE FROM ${table(k)} WHERE id = ANY(${p(dels)}::text[]) AND EXISTS (SELECT 1 FROM ${gen}))`);
    }
    const r = await this.q<{ n: string }>(`WITH ${ctes.join(',\n')} SELECT n FROM g`, params);
    return r.rows[0] ? Number(r.rows[0].n) : undefined;
  }

  async insertIfAbsent<K extends Kind>(kind: K, value: RecordOf[K]): Promise<boolean> {
    // One statement: the insert and its generation bump commit together, and only when it inserted.
    // A followed kind bumps first (so always: a generation may move without a change, never the reverse).
    const r = await this.q<{ n: string }>(
      FOLLOWED.has(kind)
        ? `WITH gen AS (UPDATE ssdtune_generations SET n = n + 1 WHERE kind = $3 RETURNING n),
                ins AS (INSERT INTO ${table(kind)} (id, doc, gen) SELECT $1, $2::jsonb, n FROM gen ON CONFLICT (id) DO NOTHING RETURNING 1)
           SELECT count(*) AS n FROM ins`
        : `WITH ins AS (INSERT INTO ${table(kind)} (id, doc) VALUES ($1, $2::jsonb) ON CONFLICT (id) DO NOTHING RETURNING 1),
            gen AS (UPDATE ssdtune_generations SET n = n + 1 WHERE kind = $3 AND EXISTS (SELECT 1 FROM ins))
       SELECT count(*) AS n FROM ins`,
      [keyOf[kind](value), JSON.stringify(value), kind],
    );
    return Number(r.rows[0]?.n ?? 0) === 1;
  }

  async generation(kind: Kind): Promise<number> {
    const r = await this.q<{ n: string }>('SELECT n FROM ssdtune_generations WHERE kind = $1', [kind]);
    return Number(r.rows[0]?.n ?? 0);
  }

  /** Keyset pages of 500, so an export of any size holds one page at a time. */
  async *entries(kind: Kind): AsyncGenerator<[string, unknown]> {
    let after: string | null = null;
    for (;;) {
      const r: pg.QueryResult<{ id: string; doc: unknown }> = await this.q<{ id: string; doc: unknown }>(
        `SELECT id, doc FROM ${table(kind)} WHERE ($1::text IS NULL OR id > $1) ORDER BY id LIMIT 500`,
        [after],
      );
      for (const row of r.rows) yield [row.id, row.doc];
      if (r.rows.length < 500) return;
      after = r.rows.at(-1)!.id;
    }
  }

  async compact(): Promise<void> {
    for (const k of KINDS) await this.q(`VACUUM ANALYZE ${table(k)}`);
  }

  async close(): Promise<void> {
    if (!this.tx) await Promise.all([this.pool.end(), this.lockPool.end()]);
  }

  async bestConfig(workloadId: string, space: string, scope: ConfigScope = {}): Promise<ConfigRecord | undefined> {
    const r = await this.q<{ doc: ConfigRecord }>(BEST_CONFIG, [workloadId, space, ...scopeParams(scope)]);
    return r.rows[0]?.doc;
  }

  async pinFor(workloadId: string, space: string, deviceClass?: string): Promise<PinRecord | undefined> {
    const r = await this.q<{ doc: PinRecord }>(pinForSql('$1'), [pinKeys(workloadId, space, deviceClass)]);
    return r.rows[0]?.doc;
  }

  /** One statement, one snapshot: the pin, its configuration and the best learned. */
  async pinnedAndBest(workloadId: string, space: string, scope: ConfigScope & { deviceClass: string }): Promise<PinnedAndBest> {
    const r = await this.q<{ pin: PinRecord | null; pinned: ConfigRecord | null; best: ConfigRecord | null }>(
      `WITH pin AS (${pinForSql('$8')})
       SELECT (SELECT doc FROM pin) AS pin,
              (SELECT c.doc FROM ssdtune_configs c, pin WHERE c.id = pin.doc->>'configId') AS pinned,
              (${BEST_CONFIG}) AS best`,
      [workloadId, space, ...scopeParams(scope), pinKeys(workloadId, space, scope.deviceClass)],
    );
    const { pin, pinned, best } = r.rows[0]!;
    return { ...(pin ? { pin } : {}), ...(pinned ? { pinned } : {}), ...(best ? { best } : {}) };
  }

  async workloadsWithWindow(windowSize: number): Promise<WorkloadRecord[]> {
    const r = await this.q<{ doc: WorkloadRecord }>(`SELECT doc FROM ssdtune_workloads WHERE window_size = $1 ORDER BY id`, [windowSize]);
    return r.rows.map((row) => row.doc);
  }

  async workloadsSince(windowSize: number, since?: number): Promise<WorkloadsSince> {
    // One statement, one snapshot: the generation, the changes and the count agree.
    const r = await this.q<{ n: string; total: string; docs: WorkloadRecord[] | null }>(
      `SELECT (SELECT n FROM ssdtune_generations WHERE kind = 'workloads') AS n,
              (SELECT count(*) FROM ssdtune_workloads WHERE window_size = $1) AS total,
              (SELECT json_agg(doc ORDER BY id) FROM ssdtune_workloads WHERE window_size = $1 AND ($2::bigint IS NULL OR gen > $2)) AS docs`,
      [windowSize, since ?? null],
    );
    const row = r.rows[0]!;
    return { generation: Number(row.n), workloads: row.docs ?? [], complete: since === undefined, total: Number(row.total) };
  }

  async latestJobWithKey(key: string, statuses: readonly JobStatus[]): Promise<JobRecord | undefined> {
    const r = await this.q<{ doc: JobRecord }>(
      `SELECT doc FROM ssdtune_jobs WHERE doc->>'key' = $1 AND doc->>'status' = ANY($2::text[]) ORDER BY id DESC LIMIT 1`,
      [key, [...statuses]],
    );
    return r.rows[0]?.doc;
  }

  async jobsWithStatus(statuses: readonly JobStatus[]): Promise<JobRecord[]> {
    const r = await this.q<{ doc: JobRecord }>(`SELECT doc FROM ssdtune_jobs WHERE doc->>'status' = ANY($1::text[]) ORDER BY id`, [[...statuses]]);
    return r.rows.map((row) => row.doc);
  }

  async traceAt(file: string, bytes: number): Promise<TraceRecord | undefined> {
    const r = await this.q<{ doc: TraceRecord }>(
      `SELECT doc FROM ssdtune_traces WHERE doc->>'path' = $1 AND (doc->>'bytes')::bigint = $2 ORDER BY id LIMIT 1`,
      [file, bytes],
    );
    return r.rows[0]?.doc;
  }

  async traceWithDigest(digest: string): Promise<TraceRecord | undefined> {
    return (await this.q<{ doc: TraceRecord }>(`SELECT doc FROM ssdtune_traces WHERE doc->>'sha256' = $1 ORDER BY id LIMIT 1`, [digest])).rows[0]?.doc;
  }

  async evaluationsOf(workloadId: string): Promise<EvaluationRecord[]> {
    const r = await this.q<{ doc: EvaluationRecord }>(`SELECT doc FROM ssdtune_evaluations WHERE doc->>'workloadId' = $1 ORDER BY id`, [workloadId]);
    return r.rows.map((row) => row.doc);
  }

  /**
   * One transaction holding a transaction-scoped advisory lock, seen by every
   * process on this database. Waiters queue in-process first, so each lock
   * parks at most one lockPool connection per process. `fn` must use the store
   * it is given: an exclusive() on the outer store from inside `fn` would
   * need a second lockPool connection while the holder's waiters occupy the
   * others, a deadlock no server detects (it hung CI once), so it is refused.
   */
  async exclusive<T>(lock: string, fn: (db: ConfDB) => Promise<T>): Promise<T> {
    if (this.tx) {
      await this.tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [lock]);
      return fn(this);
    }
    const outer = holding.getStore();
    if (outer?.held && outer.pool === this.pool) throw ERR_CONFDB_NESTED_LOCK(lock, outer.lock);
    return this.turns.run(lock, () =>
      this.transaction(
        async (c) => {
          await c.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [lock]);
          const mark = { pool: this.pool, lock, held: true };
          try {
            return await holding.run(mark, () => fn(new PgStore(this.location, this.pool, this.lockPool, this.limits, c)));
          } finally {
            // Work fn started and left running (a job it queued) may take locks once this one is released.
            mark.held = false;
          }
        },
        this.limits.retryMs,
        this.lockPool,
      ),
    );
  }
}
