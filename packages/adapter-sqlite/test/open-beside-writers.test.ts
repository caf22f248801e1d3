// Opening an existing store takes no write lock (issue 27: 2 of 9 processes opening beside 8
// busy writers failed with SQLITE_BUSY). Here another connection holds the write lock for the
// whole open, with a short busy timeout: the open must not wait for it, reads work, and the
// first commit waits its turn.
import BetterSqlite3 from 'better-sqlite3';
import { expect, it } from 'vitest';
import { openStore } from '@cse/core';
import { SqliteAdapter } from '@cse/adapter-sqlite';
import { tempDb } from './helpers.js';

it('opening an existing store while another connection holds the write lock succeeds, and commits wait their turn', async () => {
  const path = tempDb();
  const first = openStore(new SqliteAdapter({ path }));
  await first.insert('a', { id: 'x', n: 1 });
  await first.close();

  const writer = new BetterSqlite3(path);
  writer.exec('BEGIN IMMEDIATE');
  writer.prepare("UPDATE cse_meta SET last_sync_id = last_sync_id WHERE singleton = 1").run();
  let store;
  try {
    store = openStore(new SqliteAdapter({ path, busyTimeout: 100 }));
    expect((await store.get('a', 'x'))?.n).toBe(1);
    expect(await store.lastSyncId()).toBe(1);
  } finally {
    writer.exec('COMMIT');
    writer.close();
  }
  const doc = await store.insert('a', { id: 'y' });
  expect(doc._sync_id).toBe(2);
  await store.close();
});
