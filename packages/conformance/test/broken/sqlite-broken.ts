/**
 * Broken SQLite adapters for the self-test of the child-process groups. Reads go through the
 * real `SqliteAdapter`; commits go through a second connection to the same file, written the
 * wrong way:
 *
 * - `split`: ids are allocated in one transaction and the records written in a second one, so
 *   between the two another process can commit a larger id that a reader sees first (the
 *   classic lost change).
 * - `torn`: the precondition check is one read and every record, then the counter, is its own
 *   autocommit statement, yet the adapter declares `crashSafe` (a kill tears a batch).
 */
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { CommitRequest, CommitResult, StorageAdapter, StoredRecord } from '@cse/core';
import { defineCapabilities, meetsExpectation, planCommit } from '@cse/core';
import { SqliteAdapter } from '@cse/adapter-sqlite';

export type SqliteFault = 'split' | 'torn';

const BUSY_TIMEOUT_MS = 120_000;

export function brokenSqlite(fault: SqliteFault): (storeName: string, ctx: { dir: string }) => StorageAdapter {
  return (storeName, { dir }) => {
    const path = join(dir, `${storeName}.db`);
    // Lock waits bounded generously: on a busy machine a writer may hold the lock for seconds,
    // and a BUSY error would fail the run for the wrong reason (the fault is the split, not a timeout).
    const inner = new SqliteAdapter({ path, busyTimeout: BUSY_TIMEOUT_MS }); // creates the schema, serves the reads
    const db = new BetterSqlite3(path);
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.pragma('synchronous = FULL');
    const meta = db.prepare<[], { last_sync_id: number }>('SELECT last_sync_id FROM cse_meta WHERE singleton = 1');
    const setLast = db.prepare('UPDATE cse_meta SET last_sync_id = ? WHERE singleton = 1');
    const upsert = db.prepare(
      'INSERT INTO cse_docs (collection, id, sync_id, version, deleted, doc) VALUES (?, ?, ?, ?, ?, ?) ' +
        'ON CONFLICT (collection, id) DO UPDATE SET sync_id = excluded.sync_id, version = excluded.version, deleted = excluded.deleted, doc = excluded.doc',
    );
    const write = (r: StoredRecord): void => {
      upsert.run(r.collection, r.id, r.syncId, r.version, r.deleted ? 1 : 0, JSON.stringify(r.doc));
    };
    const allocate = db.transaction((n: number) => {
      const base = (meta.get() as { last_sync_id: number }).last_sync_id;
      setLast.run(base + n);
      return base;
    });
    const get = db.prepare<[string, string], { collection: string; id: string; sync_id: number; version: number; deleted: number; doc: string }>(
      'SELECT collection, id, sync_id, version, deleted, doc FROM cse_docs WHERE collection = ? AND id = ?',
    );
    const read = (w: { collection: string; id: string }): StoredRecord | undefined => {
      const row = get.get(w.collection, w.id);
      return row && { collection: row.collection, id: row.id, syncId: row.sync_id, version: row.version, deleted: row.deleted === 1, doc: JSON.parse(row.doc) as StoredRecord['doc'] };
    };
    // The second unit checks the preconditions again and writes with the ids the first one took.
    const checkAndWrite = db.transaction((request: CommitRequest, base: number): CommitResult => {
      const prevs = request.writes.map(read);
      const { result } = planCommit(request, prevs, base);
      if (result.ok) result.records.forEach(write);
      return result;
    });

    const commit = async (request: CommitRequest): Promise<CommitResult> => {
      const prevs = await inner.getMany(request.writes);
      const failures = request.writes.flatMap((w, index) => (meetsExpectation(prevs[index], w.expect) ? [] : [{ index, current: prevs[index] }]));
      if (failures.length > 0) return { ok: false, failures };
      const n = request.writes.filter((w) => w.kind !== 'check').length;
      if (fault === 'split') {
        const base = n === 0 ? 0 : allocate.immediate(n);
        // The second atomic unit comes after an await, as with an async client or a worker
        // thread (here a timer hop, about a millisecond).
        await new Promise((resolve) => setTimeout(resolve, 0));
        return checkAndWrite.immediate(request, base);
      }
      const { result, lastSyncId } = planCommit(request, prevs, (meta.get() as { last_sync_id: number }).last_sync_id);
      if (!result.ok) return result;
      for (const r of result.records) write(r); // one autocommit each
      setLast.run(lastSyncId);
      return result;
    };
    return {
      capabilities: defineCapabilities({ persistent: true, crashSafe: fault === 'torn', multiProcess: fault === 'split' }),
      commit,
      getMany: (keys) => inner.getMany(keys),
      scanCollection: (c) => inner.scanCollection(c),
      changes: (after, o) => inner.changes(after, o),
      listCollections: () => inner.listCollections(),
      sequence: () => inner.sequence(),
      close: async () => {
        db.close();
        await inner.close();
      },
    };
  };
}
