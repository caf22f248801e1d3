import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isCseError, openStore } from '@cse/core';
import type { Store } from '@cse/core';
import { SqliteAdapter } from '../src/index.js';
import { mountTmpfs } from '../../../test-support/tmpfs.js';
import type { Tmpfs } from '../../../test-support/tmpfs.js';

let fs: Tmpfs | undefined;
afterEach(() => {
  fs?.dispose();
  fs = undefined;
});

const payload = 'x'.repeat(4000);

describe('a disk-full error on a commit', () => {
  it('is SQLITE_FULL as BACKEND; earlier writes stay, and writes resume (with fresh ids) once space is freed', async () => {
    fs = mountTmpfs('2M');
    const path = join(fs.dir, 'store.db');
    let store: Store = openStore(new SqliteAdapter({ path }));
    const acked = new Map<string, number>();
    let failure: unknown;
    for (let i = 0; i < 5000 && failure === undefined; i++) {
      try {
        const doc = await store.insert('docs', { id: `d${i}`, payload });
        acked.set(doc.id, doc._sync_id);
      } catch (e) {
        failure = e;
      }
    }
    expect(isCseError(failure, 'BACKEND'), `the disk never filled, or the error was ${String(failure)}`).toBe(true);
    expect(JSON.stringify((failure as Error).cause, Object.getOwnPropertyNames((failure as Error).cause)) + (failure as Error).message).toMatch(
      /SQLITE_FULL|full/i,
    );
    expect(acked.size).toBeGreaterThan(10);
    const lastAcked = Math.max(...acked.values());

    fs.resize('8M');
    const after = new Map<string, number>();
    for (let i = 0; i < 20; i++) {
      const doc = await store.insert('after', { id: `a${i}`, payload });
      after.set(doc.id, doc._sync_id);
    }
    expect(Math.min(...after.values())).toBeGreaterThan(lastAcked);
    await store.close();

    store = openStore(new SqliteAdapter({ path }));
    try {
      for (const [id, syncId] of acked) expect((await store.get('docs', id))?._sync_id, id).toBe(syncId);
      for (const [id, syncId] of after) expect((await store.get('after', id))?._sync_id, id).toBe(syncId);
      const top = Math.max(...after.values());
      expect(await store.lastSyncId()).toBe(top);
      expect((await store.insert('after', { id: 'fresh' }))._sync_id).toBeGreaterThan(top);
    } finally {
      await store.close();
    }
  });
});
