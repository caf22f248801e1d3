import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isCseError, openStore } from '@cse/core';
import type { Store } from '@cse/core';
import { LevelAdapter } from '../src/index.js';
import { PAYLOAD, expectAcked, fillUntilFull, tmpfsPerTest } from '../../../test-support/disk-full.js';

const tmpfs = tmpfsPerTest();

describe('a disk-full error on a commit', () => {
  it('stops all further commits until the store is reopened, so no acknowledged write is lost and no sync id is reused', async () => {
    const fs = tmpfs.mount('2M');
    const location = join(fs.dir, 'db');
    let store: Store = openStore(new LevelAdapter({ location }));
    const { acked, lastAcked } = await fillUntilFull(store);

    fs.resize('8M');
    // Space is back, but LevelDB's log may be torn: the adapter refuses writes until a reopen.
    for (let i = 0; i < 20; i++) {
      const e = await store.insert('after', { id: `a${i}`, payload: PAYLOAD }).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(isCseError(e, 'BACKEND'), `insert ${i} after the failure: ${String(e)}`).toBe(true);
      expect((e as Error).message).toMatch(/reopen/);
    }
    // Reads still work.
    expect((await store.get('docs', 'd0'))?.payload).toBe(PAYLOAD);
    await store.close();

    store = openStore(new LevelAdapter({ location }));
    try {
      await expectAcked(store, 'docs', acked);
      expect(await store.lastSyncId()).toBeGreaterThanOrEqual(lastAcked);
      const next = await store.insert('after', { id: 'fresh', payload: PAYLOAD });
      expect(next._sync_id).toBeGreaterThan(lastAcked);
      await store.close();
      store = openStore(new LevelAdapter({ location }));
      expect((await store.get('after', 'fresh'))?._sync_id).toBe(next._sync_id);
    } finally {
      await store.close();
    }
  });
});
