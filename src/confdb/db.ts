/**
 * The ConfDB (docs/confdb.md): one interface over two engines.
 * - LevelDB (classic-level), the default: embedded under the data directory,
 *   one process at a time (a second opener gets SSDTUNE_CONFDB_LOCKED).
 * - PostgreSQL (`pg`), chosen by SSDTUNE_STORE=postgres://...: shared by any
 *   number of `serve` and `worker` processes on any machine.
 * Everything that reads or writes the ConfDB goes through this interface.
 * Writes that belong together go in one batch (one LevelDB batch, one SQL
 * transaction), so a crash never leaves half of them visible. The named
 * queries are the questions the service asks often; PostgreSQL answers them
 * from indexes, LevelDB by a scan as it always has.
 */
import { auditOp } from './kinds.js';
import { LevelStore } from './level.js';
import type { ConfDB as Store } from './store.js';

export { KINDS, keyOf, pinKey, type BatchOp, type Kind, type ListOptions, type RecordOf } from './kinds.js';

/** The store interface every engine implements (store.ts, apart so the engines need not import this factory). */
export type ConfDB = Store;

export const ConfDB = {
  /**
   * Open the ConfDB: PostgreSQL when `url` is a postgres:// URL (SSDTUNE_STORE),
   * otherwise LevelDB under `<dataDir>/confdb`.
   */
  async open(dataDir: string, url?: string): Promise<ConfDB> {
    if (url) {
      // Loaded only when asked for: the embedded default never loads pg.
      const { PgStore } = await import('./postgres.js');
      return PgStore.open(url);
    }
    return LevelStore.open(dataDir);
  },
  /** An audit record to add to the batch of the change it describes. */
  audit: auditOp,
};
