// Raw better-sqlite3, as a user would write it by hand: one table, a counter row, prepared
// statements, every write one BEGIN IMMEDIATE transaction. Same durability as the adapter
// (WAL, synchronous FULL unless told otherwise) and the same indexes (primary key, unique sync id).
import Database from 'better-sqlite3';
import { COLLECTION } from '../lib/docs.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS counter (k INTEGER PRIMARY KEY, last INTEGER NOT NULL);
INSERT OR IGNORE INTO counter VALUES (1, 0);
CREATE TABLE IF NOT EXISTS docs (
  collection TEXT NOT NULL, id TEXT NOT NULL, sync_id INTEGER NOT NULL, version INTEGER NOT NULL,
  created_at TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (collection, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS docs_sync_id ON docs (sync_id);
`;

export function sqliteBaseline({ path, synchronous = 'FULL' }) {
  const db = new Database(path);
  db.pragma('busy_timeout = 5000');
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous}`);
  db.transaction(() => db.exec(SCHEMA)).immediate();
  const take = db.prepare('UPDATE counter SET last = last + ? WHERE k = 1 RETURNING last').pluck();
  const last = db.prepare('SELECT last FROM counter WHERE k = 1').pluck();
  const insert = db.prepare('INSERT INTO docs VALUES (?, ?, ?, ?, ?, ?)');
  const current = db.prepare('SELECT version, created_at FROM docs WHERE collection = ? AND id = ?');
  const replace = db.prepare('UPDATE docs SET sync_id = ?, version = ?, doc = ? WHERE collection = ? AND id = ?');
  const page = db.prepare('SELECT sync_id, doc FROM docs WHERE sync_id > ? ORDER BY sync_id LIMIT ?');

  const insertMany = db.transaction((docs, now) => {
    let syncId = take.get(docs.length) - docs.length;
    for (const body of docs) {
      syncId++;
      const doc = { ...body, _sync_id: syncId, _version: 1, _created_at: now, _updated_at: now };
      insert.run(COLLECTION, body.id, syncId, 1, now, JSON.stringify(doc));
    }
  });
  const updateOne = db.transaction((id, body, expected, now) => {
    const row = current.get(COLLECTION, id);
    if (row === undefined || row.version !== expected) throw new Error(`conflict on ${id}`);
    const syncId = take.get(1);
    const doc = { ...body, id, _sync_id: syncId, _version: expected + 1, _created_at: row.created_at, _updated_at: now };
    replace.run(syncId, expected + 1, JSON.stringify(doc), COLLECTION, id);
    return doc;
  });

  return {
    side: 'raw',
    durability: `WAL, synchronous=${synchronous}`,
    async saveNew(id, body) {
      // The primary key refuses an id that exists: the insert is the absence check.
      insertMany.immediate([{ ...body, id }], new Date().toISOString());
      return 1;
    },
    async update(id, body, expectedVersion) {
      return updateOne.immediate(id, body, expectedVersion, new Date().toISOString())._version;
    },
    async insertBatch(docs) {
      insertMany.immediate(docs, new Date().toISOString());
    },
    async changes(after, limit) {
      const rows = page.all(after, limit);
      for (const r of rows) r.doc = JSON.parse(r.doc);
      const tail = rows[rows.length - 1];
      return { cursor: tail ? tail.sync_id : after, count: rows.length, hasMore: rows.length === limit };
    },
    async seed(docs) {
      for (let i = 0; i < docs.length; i += 1000) insertMany.immediate(docs.slice(i, i + 1000), new Date().toISOString());
    },
    async lastSyncId() {
      return last.get();
    },
    async close() {
      db.close();
    },
  };
}
