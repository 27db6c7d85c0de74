/**
 * ConfDB schema versions. MIGRATIONS[v] turns a version-v store into v+1 and
 * returns the writes to make; they are applied in one batch before the
 * version number moves, so an interrupted migration simply runs again.
 */
import type { BatchOp } from './kinds.js';
import type { ConfDB } from './store.js';

export const SCHEMA_VERSION = 1;

export const MIGRATIONS: Record<number, (db: ConfDB) => Promise<BatchOp[]>> = {};
