/**
 * The documented maximum batch: `insertMany` takes `MAX_INSERT_MANY` (100 000) documents, and
 * every adapter commits a batch of that size atomically, whole or not at all. A backend with a
 * lower limit (script arguments spread into one call, a statement or transaction size cap) fails
 * here instead of in production. Run once per adapter with small documents, so it stays cheap.
 */
import { MAX_INSERT_MANY } from '@cse/core';
import { equal, ok, rejects } from '../assert.js';
import type { Group } from '../group.js';

const batch = (prefix: string, n: number): { id: string; i: number }[] => Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}`, i }));

export const largeBatchGroupDef: Group = {
  id: 'large-batch',
  title: 'Large batches (the documented maximum)',
  checks: [
    {
      name: `insertMany of ${MAX_INSERT_MANY} documents commits them all, with consecutive sync ids; a conflict at the end of such a batch writes none`,
      timeout: 600_000,
      run: (scope) =>
        scope.child(async (s) => {
          const store = await s.store(s.storeName('max-batch'));
          await store.insert('items', { id: 'taken', i: -1 });
          const start = await store.lastSyncId();
          const stored = await store.insertMany('items', batch('d', MAX_INSERT_MANY));
          equal(stored.length, MAX_INSERT_MANY, `insertMany returns all ${MAX_INSERT_MANY} documents`);
          equal(await store.lastSyncId(), start + MAX_INSERT_MANY, `the counter moved by exactly ${MAX_INSERT_MANY}`);
          ok(
            stored.every((d, i) => d._sync_id === start + 1 + i && d.i === i),
            'the returned documents are in order with consecutive sync ids',
          );
          const probe = [0, 1, MAX_INSERT_MANY >> 1, MAX_INSERT_MANY - 1].map((i) => `d${i}`);
          equal(
            (await store.getMany('items', probe)).map((d) => d && [d.id, d.i, d._sync_id]),
            probe.map((id) => [id, Number(id.slice(1)), start + 1 + Number(id.slice(1))]),
            'the first, middle and last documents read back',
          );
          const page = await store.changesSince(start + MAX_INSERT_MANY - 2, { collections: ['items'] });
          equal(page.changes.map((c) => c.id), [`d${MAX_INSERT_MANY - 2}`, `d${MAX_INSERT_MANY - 1}`], 'changesSince reaches the end of the batch');

          // The same size again, with the last id taken: nothing of it may be written.
          const second = batch('e', MAX_INSERT_MANY);
          second[MAX_INSERT_MANY - 1] = { id: 'taken', i: 0 };
          await rejects(() => store.insertMany('items', second), 'CONFLICT', 'a maximum batch whose last id is taken');
          equal(await store.lastSyncId(), start + MAX_INSERT_MANY, 'the conflicting batch took no sync id');
          equal(await store.getMany('items', ['e0', `e${MAX_INSERT_MANY >> 1}`]), [undefined, undefined], 'the conflicting batch wrote no document');
        }),
    },
  ],
};
