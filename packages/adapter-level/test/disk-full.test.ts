import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isCseError, openStore } from '@cse/core';
import type { Store } from '@cse/core';
import { LevelAdapter } from '../src/index.js';
import { mountTmpfs } from '../../../test-support/tmpfs.js';
import type { Tmpfs } from '../../../test-support/tmpfs.js';

let fs: Tmpfs | undefined;
afterEach(() => {
  fs?.dispose();
  fs = undefined;
});

const payload = 'x'.repeat(4000);

describe('a disk-full error on a commit', () => {
  it('stops all further commits until the store is reopened, so no acknowledged write is lost and no sync id is reused', async () => {
    fs = mountTmpfs('2M');
    const location = join(fs.dir, 'db');
    let store: Store = openStore(new LevelAdapter({ location }));
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
    expect(acked.size).toBeGreaterThan(10);
    const lastAcked = Math.max(...acked.values());

    fs.resize('8M');
    // Space is back, but LevelDB's log may be torn: the adapter refuses writes until a reopen.
    for (let i = 0; i < 20; i++) {
      const e = await store.insert('after', { id: `a${i}`, payload }).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(isCseError(e, 'BACKEND'), `insert ${i} after the failure: ${String(e)}`).toBe(true);
      expect((e as Error).message).toMatch(/reopen/);
    }
    // Reads still work.
    expect((await store.get('docs', 'd0'))?.payload).toBe(payload);
    await store.close();

    store = openStore(new LevelAdapter({ location }));
    try {
      for (const [id, syncId] of acked) {
        const doc = await store.get('docs', id);
        expect(doc?._sync_id, id).toBe(syncId);
      }
      expect(await store.lastSyncId()).toBeGreaterThanOrEqual(lastAcked);
      const next = await store.insert('after', { id: 'fresh', payload });
      expect(next._sync_id).toBeGreaterThan(lastAcked);
      await store.close();
      store = openStore(new LevelAdapter({ location }));
      expect((await store.get('after', 'fresh'))?._sync_id).toBe(next._sync_id);
    } finally {
      await store.close();
    }
  });
});
