import type { DBSchema } from 'idb';
import type { SequenceState, StoredRecord } from '@cse/core';

/**
 * The database layout, fixed for every store.
 *
 * - `docs`: one `StoredRecord` per document, keyed by `[collection, id]` (array keys compare
 *   element by element, so any id string, NUL included, stays apart from every other pair).
 *   - `bySyncId` (unique) on `syncId`: the delta read, a range scan from a cursor.
 *   - `byCollection` on `[collection, syncId]`: `scanCollection`, `listCollections` and
 *     collection-filtered deltas, each a range of one collection.
 * - `meta`: the counter, `{ lastSyncId, compactedThrough }` under the key `'sequence'`.
 * - `indexes` (version 2): the declared secondary indexes, keyed `[collection, field]`.
 * - `idx` (version 2): their entries, keyed `[collection, field, indexKey(entry, id)]`, the id as
 *   value (see `indexes.ts`).
 *
 * Collections are values, not object stores, so a new collection never needs a version upgrade.
 * The version changes only when this layout does.
 */
export interface CseSchema extends DBSchema {
  docs: {
    key: [string, string];
    value: StoredRecord;
    indexes: { bySyncId: number; byCollection: [string, number] };
  };
  meta: { key: string; value: SequenceState };
  indexes: { key: [string, string]; value: true };
  idx: { key: [string, string, string]; value: string };
}

/** The layout version this code opens the database with. */
export const SCHEMA_VERSION = 2;
export const DOCS = 'docs';
export const META = 'meta';
export const SEQUENCE_KEY = 'sequence';
export const INDEXES = 'indexes';
export const IDX = 'idx';

/**
 * Brings a database from `oldVersion` to `SCHEMA_VERSION` inside the open request's
 * `versionchange` transaction. A future layout adds one `if (oldVersion < N)` step below the
 * others and raises `SCHEMA_VERSION`; tabs still running older code receive `versionchange`,
 * close their connection and so do not block the upgrade.
 */
export function upgradeSchema(db: IDBDatabase, oldVersion: number): void {
  if (oldVersion < 1) {
    const docs = db.createObjectStore(DOCS, { keyPath: ['collection', 'id'] });
    docs.createIndex('bySyncId', 'syncId', { unique: true });
    docs.createIndex('byCollection', ['collection', 'syncId']);
    db.createObjectStore(META);
  }
  if (oldVersion < 2) {
    db.createObjectStore(INDEXES);
    db.createObjectStore(IDX);
  }
}

/** True when the opened database has the layout above (and is not some other app's database). */
export function hasSchema(db: IDBDatabase): boolean {
  return db.objectStoreNames.contains(DOCS) && db.objectStoreNames.contains(META);
}
