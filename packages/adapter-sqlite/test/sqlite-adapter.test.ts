import BetterSqlite3 from 'better-sqlite3';
import { isCseError, openStore } from '@cse/core';
import type { CommitRequest } from '@cse/core';
import { describe, expect, it } from 'vitest';
import { SqliteAdapter } from '@cse/adapter-sqlite';
import { rejection, tempDb } from './helpers.js';

const NOW = '2026-01-01T00:00:00.000Z';
const put = (collection: string, id: string, body: Record<string, unknown> = {}): CommitRequest => ({
  writes: [{ collection, id, kind: 'put', body: { ...body, id } as never }],
  now: NOW,
});

describe('SqliteAdapter', () => {
  it('keeps documents, tombstones and the counter across close and reopen', async () => {
    const path = tempDb();
    const first = openStore(new SqliteAdapter({ path }));
    await first.insert('things', { id: 'a', n: 1 });
    await first.insert('things', { id: 'b', n: 2 });
    await first.update('things', { id: 'a', n: 3 });
    await first.delete('things', 'b');
    expect(await first.lastSyncId()).toBe(4);
    await first.close();

    const again = openStore(new SqliteAdapter({ path }));
    expect(await again.lastSyncId()).toBe(4);
    expect(await again.get('things', 'a')).toMatchObject({ n: 3, _version: 2, _sync_id: 3 });
    expect(await again.get('things', 'b')).toBeUndefined();
    const page = await again.changesSince(0);
    expect(page.changes.map((c) => [c.id, c.syncId, c.deleted])).toEqual([
      ['a', 3, false],
      ['b', 4, true],
    ]);
    expect((await again.insert('things', { id: 'c' }))._sync_id).toBe(5);
    await again.close();
  });

  it('round-trips hostile ids and leaves SQL metacharacters harmless', async () => {
    const path = tempDb();
    const store = openStore(new SqliteAdapter({ path }));
    const ids = [
      "x'; DROP TABLE cse_docs; --",
      'a\u0000b',
      'a\u0000c',
      'a',
      '\u0000',
      '"quoted" `ticks` [brackets]',
      '%_*?\\',
      'emoji 🚀 and 中文',
      ' ',
      'x'.repeat(1024),
      '__proto__',
      'constructor',
    ];
    for (const id of ids) await store.insert('col', { id, original: id });
    await store.insert('Robert-Tables_2', { id: "'); DELETE FROM cse_meta; --", k: 1 });
    for (const id of ids) expect(await store.get('col', id)).toMatchObject({ id, original: id });
    // 'a\0b', 'a\0c' and 'a' are three documents, not one truncated at the NUL.
    expect((await store.find('col')).map((d) => d.id).sort()).toEqual([...ids].sort());
    expect(await store.listCollections()).toEqual(['Robert-Tables_2', 'col']);
    expect(await store.lastSyncId()).toBe(ids.length + 1);
    await store.close();
    // Reopened, the schema is intact and the NUL ids are still apart.
    const again = new SqliteAdapter({ path });
    const got = await again.getMany([
      { collection: 'col', id: 'a\u0000b' },
      { collection: 'col', id: 'a\u0000c' },
      { collection: 'col', id: 'a\u0000' },
    ]);
    expect(got.map((r) => r?.id)).toEqual(['a\u0000b', 'a\u0000c', undefined]);
    await again.close();
  });

  it('filters changes by collection and pages by limit', async () => {
    const adapter = new SqliteAdapter({ path: tempDb() });
    for (let i = 0; i < 6; i++) await adapter.commit(put(i % 2 === 0 ? 'even' : 'odd', `d${i}`));
    expect((await adapter.changes(0, { limit: 10, collections: ['odd'] })).map((r) => r.syncId)).toEqual([2, 4, 6]);
    expect((await adapter.changes(2, { limit: 2 })).map((r) => r.syncId)).toEqual([3, 4]);
    expect(await adapter.changes(0, { limit: 10, collections: [] })).toEqual([]);
    expect(await adapter.changes(0, { limit: 10, collections: ['none'] })).toEqual([]);
    await adapter.close();
  });

  it('compacts tombstones atomically and never lowers the watermark', async () => {
    const adapter = new SqliteAdapter({ path: tempDb() });
    await adapter.commit(put('c', 'a'));
    await adapter.commit(put('c', 'b'));
    await adapter.commit({ writes: [{ collection: 'c', id: 'a', kind: 'delete' }], now: NOW });
    await adapter.commit({ writes: [{ collection: 'c', id: 'b', kind: 'delete' }], now: NOW });
    expect(await adapter.compact(3)).toBe(1);
    expect(await adapter.sequence()).toEqual({ lastSyncId: 4, compactedThrough: 3 });
    expect(await adapter.compact(1)).toBe(0);
    expect(await adapter.sequence()).toEqual({ lastSyncId: 4, compactedThrough: 3 });
    expect((await adapter.scanCollection('c')).map((r) => [r.id, r.deleted])).toEqual([['b', true]]);
    await adapter.close();
  });

  it('declares what it can do, and less for an in-memory database', async () => {
    const file = new SqliteAdapter({ path: tempDb() });
    expect(file.capabilities).toEqual({ persistent: true, crashSafe: true, multiProcess: true, compaction: true, changeFeed: true, sequencedChanges: true, indexes: true });
    expect(Object.isFrozen(file.capabilities)).toBe(true);
    const memory = new SqliteAdapter({ path: ':memory:' });
    expect(memory.capabilities).toEqual({ persistent: false, crashSafe: false, multiProcess: false, compaction: true, changeFeed: true, sequencedChanges: true, indexes: true });
    await Promise.all([file.close(), memory.close()]);
  });

  it('sets WAL, synchronous and busy_timeout as asked', async () => {
    const path = tempDb();
    const db = new BetterSqlite3(path);
    const adapter = new SqliteAdapter({ database: db });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('synchronous', { simple: true })).toBe(2); // FULL
    expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
    await adapter.close();
    const normal = new SqliteAdapter({ database: db, synchronous: 'NORMAL', busyTimeout: 250 });
    expect(db.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
    expect(db.pragma('busy_timeout', { simple: true })).toBe(250);
    await normal.close();
    db.close();
  });

  it('leaves a handed-in database open on close, and closes the one it opened', async () => {
    const path = tempDb();
    const db = new BetterSqlite3(path);
    const adapter = new SqliteAdapter({ database: db });
    await adapter.commit(put('c', 'a'));
    await adapter.close();
    expect(db.open).toBe(true);
    expect(db.prepare('SELECT count(*) AS n FROM cse_docs').get()).toEqual({ n: 1 });
    db.close();

    const own = new SqliteAdapter({ path });
    await own.close();
    await own.close(); // idempotent
    // The file is free again: another adapter opens it and finds the document.
    const again = new SqliteAdapter({ path });
    expect((await again.getMany([{ collection: 'c', id: 'a' }]))[0]?.syncId).toBe(1);
    await again.close();
  });

  it('rejects every call after close with CLOSED', async () => {
    const adapter = new SqliteAdapter({ path: tempDb() });
    await adapter.close();
    const calls: Promise<unknown>[] = [
      adapter.commit(put('c', 'a')),
      adapter.getMany([{ collection: 'c', id: 'a' }]),
      adapter.scanCollection('c'),
      adapter.changes(0, { limit: 1 }),
      adapter.listCollections(),
      adapter.sequence(),
      adapter.compact(0),
    ];
    for (const call of calls) expect(isCseError(await rejection(call), 'CLOSED')).toBe(true);
  });

  it('rejects bad options with VALIDATION before opening anything', () => {
    const bad: unknown[] = [
      undefined,
      {},
      { path: '' },
      { path: 42 },
      { path: 'x.db', database: {} },
      { database: { not: 'a database' } },
      { path: 'x.db', synchronous: 'OFF' },
      { path: 'x.db', synchronous: 'FULL; DROP TABLE x' },
      { path: 'x.db', busyTimeout: -1 },
      { path: 'x.db', busyTimeout: 1.5 },
    ];
    for (const options of bad) {
      let error: unknown;
      try {
        new SqliteAdapter(options as never);
      } catch (e) {
        error = e;
      }
      expect(isCseError(error, 'VALIDATION'), JSON.stringify(options)).toBe(true);
    }
  });

  it('reports a file it cannot open as BACKEND with the original error as cause', () => {
    let error: unknown;
    try {
      new SqliteAdapter({ path: '/nonexistent-dir/for/cse/store.db' });
    } catch (e) {
      error = e;
    }
    expect(isCseError(error, 'BACKEND')).toBe(true);
    // better-sqlite3 checks the directory itself and throws a TypeError before SQLite runs.
    expect((error as Error).cause).toBeInstanceOf(Error);
    expect((error as Error).message).toContain('/nonexistent-dir/for/cse/store.db');
  });
});

describe('SqliteAdapter batches of new documents (written without reading first)', () => {
  it('falls back to reading when a row exists: a tombstone continues its version, a live document fails the whole batch', async () => {
    const path = tempDb();
    const store = openStore(new SqliteAdapter({ path }));
    await store.insert('c', { id: 'live', v: 1 });
    await store.insert('c', { id: 'gone', v: 1 });
    await store.delete('c', 'gone');
    const e = await rejection(store.insertMany('c', [{ id: 'n1' }, { id: 'live' }, { id: 'n2' }]));
    expect(isCseError(e, 'CONFLICT')).toBe(true);
    expect(await store.lastSyncId()).toBe(3);
    expect(await store.get('c', 'n1')).toBeUndefined();
    const docs = await store.insertMany('c', [{ id: 'n1' }, { id: 'gone', v: 2 }, { id: 'n2' }]);
    expect(docs.map((d) => [d.id, d._sync_id, d._version])).toEqual([
      ['n1', 4, 1],
      ['gone', 5, 3],
      ['n2', 6, 1],
    ]);
    const page = await store.changesSince(3);
    expect(page.changes.map((c) => c.doc)).toEqual(docs);
    await store.close();
    const again = openStore(new SqliteAdapter({ path }));
    expect(await again.get('c', 'gone')).toEqual(docs[1]);
    await again.close();
  });
});
