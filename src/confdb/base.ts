/** What both ConfDB engines share: lookups by key, single puts, schema migration. */
import { ERR_CONFDB_SCHEMA, ERR_NOT_FOUND } from '../errors.js';
import type { ConfDB } from './store.js';
import type { BatchOp, Kind, RecordOf } from './kinds.js';
import { MIGRATIONS, SCHEMA_VERSION } from './schema.js';

export abstract class StoreBase {
  abstract readonly location: string;
  abstract get<K extends Kind>(kind: K, key: string): Promise<RecordOf[K] | undefined>;
  abstract batch(ops: BatchOp[]): Promise<void>;
  protected abstract readSchema(): Promise<number | undefined>;
  protected abstract writeSchema(v: number): Promise<void>;

  async require<K extends Kind>(kind: K, key: string): Promise<RecordOf[K]> {
    const r = await this.get(kind, key);
    if (r === undefined) throw ERR_NOT_FOUND(`no ${kind.replace(/s$/, '')} with id ${key}`);
    return r;
  }

  async put<K extends Kind>(kind: K, value: RecordOf[K]): Promise<void> {
    await this.batch([{ kind, type: 'put', value } as BatchOp]);
  }

  async schemaVersion(): Promise<number> {
    return (await this.readSchema()) ?? SCHEMA_VERSION;
  }

  /** Bring the stored schema to SCHEMA_VERSION, one version per batch; refuse a newer one. */
  protected async migrate(): Promise<void> {
    const stored = await this.readSchema();
    if (stored === undefined) {
      await this.writeSchema(SCHEMA_VERSION);
      return;
    }
    if (stored > SCHEMA_VERSION) throw ERR_CONFDB_SCHEMA(this.location, stored, SCHEMA_VERSION);
    for (let v = stored; v < SCHEMA_VERSION; v++) {
      await this.batch([...(await MIGRATIONS[v](this as unknown as ConfDB))]);
      await this.writeSchema(v + 1);
    }
  }
}
