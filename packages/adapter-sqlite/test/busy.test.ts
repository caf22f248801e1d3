import BetterSqlite3 from 'better-sqlite3';
import { isCseError, openStore } from '@cse/core';
import type { Store } from '@cse/core';
import { describe, expect, it } from 'vitest';
import { SqliteAdapter } from '@cse/adapter-sqlite';
import { childScript, rejection, spawnChild, tempDb } from './helpers.js';

/** A store on a new file holding the document `before`, and another connection holding the file's write lock. */
async function lockedByAnother(busyTimeout: number): Promise<{ store: Store; other: BetterSqlite3.Database }> {
  const path = tempDb();
  const store = openStore(new SqliteAdapter({ path, busyTimeout }));
  await store.insert('c', { id: 'before' });
  const other = new BetterSqlite3(path);
  other.exec('BEGIN IMMEDIATE');
  return { store, other };
}

describe('lock contention', () => {
  it('turns SQLITE_BUSY into a BACKEND error with the SQLite error as cause, and writes nothing', async () => {
    // A second connection takes the write lock and keeps it while the store tries to commit.
    const { store, other } = await lockedByAnother(10);
    try {
      const error = await rejection(store.insert('c', { id: 'blocked' }));
      expect(isCseError(error, 'BACKEND')).toBe(true);
      expect(error.cause).toBeInstanceOf(BetterSqlite3.SqliteError);
      expect((error.cause as { code?: string }).code).toBe('SQLITE_BUSY');
      // Readers are not blocked by a writer in WAL mode.
      expect(await store.get('c', 'before')).toBeDefined();
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    expect(await store.get('c', 'blocked')).toBeUndefined();
    expect(await store.lastSyncId()).toBe(1);
    // Once the lock is gone, the next commit takes the next id.
    expect((await store.insert('c', { id: 'after' }))._sync_id).toBe(2);
    await store.close();
  });

  it('waits for another process to release the lock when busyTimeout allows', async () => {
    const path = tempDb();
    const store = openStore(new SqliteAdapter({ path, busyTimeout: 20_000 }));
    await store.insert('c', { id: 'first' });
    const holder = spawnChild(childScript('lock-holder.ts'), [path, '300']);
    const exited = new Promise((resolve) => holder.on('exit', resolve));
    await new Promise<void>((resolve, reject) => {
      holder.stdout.setEncoding('utf8').on('data', (d: string) => d.includes('locked') && resolve());
      holder.on('exit', (code) => reject(new Error(`the lock holder exited (${code}) before it took the lock`)));
    });
    // The lock is held right now; the commit waits in SQLite's busy handler instead of failing.
    expect((await store.insert('c', { id: 'second' }))._sync_id).toBe(2);
    await exited;
    await store.close();
  });

  it('waits for the lock on a timer, not in the busy handler of SQLite: the thread goes on while the lock is held, and the commits land once it is free', async () => {
    // The lock is held by another connection of this very thread: SQLite's busy handler would
    // sleep on the thread, so the holder could never let go (the commit would fail after busyTimeout).
    const { store, other } = await lockedByAnother(120_000);
    const order: string[] = [];
    const commits = Promise.all([store.insert('c', { id: 'a' }), store.insert('c', { id: 'b' })]).then((docs) => {
      order.push('committed');
      return docs;
    });
    // Timers fire while the commits wait for the lock.
    for (let i = 0; i < 3; i++) await new Promise((r) => setTimeout(r, 20));
    order.push('timers ran');
    expect(await store.get('c', 'before')).toBeDefined();
    other.exec('COMMIT');
    other.close();
    const [a, b] = await commits;
    expect(order).toEqual(['timers ran', 'committed']);
    expect([a._sync_id, b._sync_id]).toEqual([2, 3]);
    await store.close();
  });
});
