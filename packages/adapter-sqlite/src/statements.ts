import type { Database, Statement } from 'better-sqlite3';

/**
 * The schema. Idempotent, so any number of processes may run it at once (inside one
 * `BEGIN IMMEDIATE`, so they take turns). Tables carry a `cse_` prefix because a caller may hand
 * in a database that holds tables of its own.
 *
 * - `cse_meta`: one row, the durable counter and the compaction watermark.
 * - `cse_docs`: the current state of every document (live or tombstone). The primary key
 *   (collection, id) serves point reads and per-collection scans; the unique index on `sync_id`
 *   makes `changes` cost O(delta), and lets compaction read only ids up to its bound. A rowid
 *   table, not WITHOUT ROWID: documents are usually larger than the small rows that layout
 *   suits.
 */
export const SCHEMA = `
CREATE TABLE IF NOT EXISTS cse_meta (
  singleton         INTEGER PRIMARY KEY CHECK (singleton = 1),
  last_sync_id      INTEGER NOT NULL,
  compacted_through INTEGER NOT NULL
);
INSERT OR IGNORE INTO cse_meta (singleton, last_sync_id, compacted_through) VALUES (1, 0, 0);
CREATE TABLE IF NOT EXISTS cse_docs (
  collection TEXT    NOT NULL,
  id         TEXT    NOT NULL,
  sync_id    INTEGER NOT NULL,
  version    INTEGER NOT NULL,
  deleted    INTEGER NOT NULL,
  doc        TEXT    NOT NULL,
  PRIMARY KEY (collection, id)
);
CREATE UNIQUE INDEX IF NOT EXISTS cse_docs_sync_id ON cse_docs (sync_id);
`;

/** One row of `cse_docs`. */
export interface DocRow {
  collection: string;
  id: string;
  sync_id: number;
  version: number;
  deleted: number;
  doc: string;
}

export interface MetaRow {
  last_sync_id: number;
  compacted_through: number;
}

const COLUMNS = 'collection, id, sync_id, version, deleted, doc';

/**
 * Every statement the adapter runs. Names and ids are always bound as parameters, never spliced.
 * Exported so that tests can ask SQLite for their query plans.
 */
export const SQL = {
  meta: 'SELECT last_sync_id, compacted_through FROM cse_meta WHERE singleton = 1',
  setLastSyncId: 'UPDATE cse_meta SET last_sync_id = ? WHERE singleton = 1',
  // Takes `n` ids in one statement (the counter read and write of a commit); returns the new last id.
  takeIds: 'UPDATE cse_meta SET last_sync_id = last_sync_id + ? WHERE singleton = 1 RETURNING last_sync_id',
  raiseCompactedThrough: 'UPDATE cse_meta SET compacted_through = max(compacted_through, ?) WHERE singleton = 1',
  get: `SELECT ${COLUMNS} FROM cse_docs WHERE collection = ? AND id = ?`,
  upsert: `INSERT INTO cse_docs (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (collection, id) DO UPDATE SET
      sync_id = excluded.sync_id, version = excluded.version, deleted = excluded.deleted, doc = excluded.doc`,
  // A batch of new documents writes without reading first: a row that exists (live or a
  // tombstone) makes this insert change nothing, and the commit then starts over the careful way.
  insertNew: `INSERT INTO cse_docs (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (collection, id) DO NOTHING`,
  scan: `SELECT ${COLUMNS} FROM cse_docs WHERE collection = ?`,
  // INDEXED BY pins the sync_id index: with a collection filter the planner could otherwise
  // prefer the primary key and read whole collections instead of only the delta.
  changes: `SELECT ${COLUMNS} FROM cse_docs INDEXED BY cse_docs_sync_id WHERE sync_id > ? ORDER BY sync_id LIMIT ?`,
  changesIn: `SELECT ${COLUMNS} FROM cse_docs INDEXED BY cse_docs_sync_id
    WHERE sync_id > ? AND collection IN (SELECT value FROM json_each(?)) ORDER BY sync_id LIMIT ?`,
  collections: 'SELECT DISTINCT collection FROM cse_docs ORDER BY collection',
  compact: 'DELETE FROM cse_docs INDEXED BY cse_docs_sync_id WHERE sync_id <= ? AND deleted = 1',
} as const;

export interface Statements {
  readonly meta: Statement<[], MetaRow>;
  readonly setLastSyncId: Statement<[number]>;
  readonly takeIds: Statement<[number], { last_sync_id: number }>;
  readonly raiseCompactedThrough: Statement<[number]>;
  readonly get: Statement<[string, string], DocRow>;
  readonly upsert: Statement<[string, string, number, number, number, string]>;
  readonly insertNew: Statement<[string, string, number, number, number, string]>;
  readonly scan: Statement<[string], DocRow>;
  readonly changes: Statement<[number, number], DocRow>;
  readonly changesIn: Statement<[number, string, number], DocRow>;
  readonly collections: Statement<[], { collection: string }>;
  readonly compact: Statement<[number]>;
}

/** Prepares every statement of `SQL` once per connection. */
export function prepareStatements(db: Database): Statements {
  return {
    meta: db.prepare(SQL.meta),
    setLastSyncId: db.prepare(SQL.setLastSyncId),
    takeIds: db.prepare(SQL.takeIds),
    raiseCompactedThrough: db.prepare(SQL.raiseCompactedThrough),
    get: db.prepare(SQL.get),
    upsert: db.prepare(SQL.upsert),
    insertNew: db.prepare(SQL.insertNew),
    scan: db.prepare(SQL.scan),
    changes: db.prepare(SQL.changes),
    changesIn: db.prepare(SQL.changesIn),
    collections: db.prepare(SQL.collections),
    compact: db.prepare(SQL.compact),
  };
}
