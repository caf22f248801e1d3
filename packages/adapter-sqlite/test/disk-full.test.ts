import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore } from '@cse/core';
import type { Store } from '@cse/core';
import { SqliteAdapter } from '../src/index.js';
import { PAYLOAD, expectAcked, fillUntilFull, tmpfsPerTest } from '../../../test-support/disk-full.js';

const tmpfs = tmpfsPerTest();

describe('a disk-full error on a commit', () => {
  it('is SQLITE_FULL as BACKEND; earlier writes stay, and writes resume (with fresh ids) once space is freed', async () => {
    const fs = tmpfs.mount('2M');
    const path = join(fs.dir, 'store.db');
    let store: Store = openStore(new SqliteAdapter({ path }));
    const { acked, lastAcked, failure } = await fillUntilFull(store);
    expect(JSON.stringify(failure.cause, Object.getOwnPropertyNames(failure.cause)) + failure.message).toMatch(/SQLITE_FULL|full/i);

    fs.resize('8M');
    const after = new Map<string, number>();
    for (let i = 0; i < 20; i++) {
      const doc = await store.insert('after', { id: `a${i}`, payload: PAYLOAD });
      after.set(doc.id, doc._sync_id);
    }
    expect(Math.min(...after.values())).toBeGreaterThan(lastAcked);
    await store.close();

    store = openStore(new SqliteAdapter({ path }));
    try {
      await expectAcked(store, 'docs', acked);
      await expectAcked(store, 'after', after);
      const top = Math.max(...after.values());
      expect(await store.lastSyncId()).toBe(top);
      expect((await store.insert('after', { id: 'fresh' }))._sync_id).toBeGreaterThan(top);
    } finally {
      await store.close();
    }
  });
});
