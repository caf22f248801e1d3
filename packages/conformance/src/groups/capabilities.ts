/**
 * The capabilities themselves: a frozen object of booleans; what is declared works, what is not
 * declared fails with `UNSUPPORTED` instead of degrading silently; `options.capabilities` may
 * only lower what the adapter declares.
 */
import type { SequenceState, StoredRecord } from '@cse/core';
import { equal, ok, rejects, show } from '../assert.js';
import { CAPABILITY_FLAGS } from '../context.js';
import type { Group } from '../group.js';
import { needs } from '../group.js';

export const capabilitiesGroupDef: Group = {
  id: 'capabilities',
  title: 'Capabilities',
  checks: [
    {
      name: 'the capabilities object is frozen and has a boolean for every flag',
      run: (scope) =>
        scope.child(async (s) => {
          const adapter = await s.adapter(s.storeName('caps'));
          const caps = adapter.capabilities as unknown as Record<string, unknown>;
          ok(caps !== null && typeof caps === 'object', 'adapter.capabilities is an object');
          ok(Object.isFrozen(caps), 'adapter.capabilities is frozen (use defineCapabilities)');
          for (const flag of CAPABILITY_FLAGS) ok(typeof caps[flag] === 'boolean', `capabilities.${flag} is a boolean, got ${show(caps[flag])}`);
          const again = await s.adapter(s.storeName('caps-again'));
          equal(again.capabilities, adapter.capabilities, 'two adapters from one factory declare the same capabilities');
          ok(!caps.crashSafe || caps.persistent, 'crashSafe without persistent makes no sense');
          ok(!caps.compaction || typeof adapter.compact === 'function', 'compaction is declared but adapter.compact is missing');
          ok(!caps.sequencedChanges || typeof adapter.changesWithSequence === 'function', 'sequencedChanges is declared but adapter.changesWithSequence is missing');
        }),
    },
    {
      name: 'options.capabilities only lowers what the adapter declares',
      requires: ({ options }) => (options.capabilities === undefined ? 'no options.capabilities given' : undefined),
      run: (scope) =>
        scope.child(async (s) => {
          const adapter = await s.adapter(s.storeName('caps-expect'));
          for (const flag of CAPABILITY_FLAGS) {
            const given = s.run.options.capabilities?.[flag];
            ok(!(given === true && !adapter.capabilities[flag]), `options.capabilities.${flag} is true, but the adapter does not declare ${flag}`);
          }
        }),
    },
    {
      name: 'persistent: data really survives close and reopen',
      requires: needs('persistent'),
      run: (scope) =>
        scope.child(async (s) => {
          const name = s.storeName('persist');
          const first = await s.store(name);
          const doc = await first.insert('a', { id: 'kept', v: 1 });
          await s.closeOne(first);
          const second = await s.store(name);
          equal(await second.get('a', 'kept'), doc, 'a persistent adapter keeps a document across close and reopen');
          equal(await second.lastSyncId(), doc._sync_id, 'and its counter');
        }),
    },
    {
      name: 'sequencedChanges: a page and its counter come from one state, and agree with changes() and sequence()',
      requires: needs('sequencedChanges'),
      run: (scope) =>
        scope.child(async (s) => {
          const store = await s.store(s.storeName('seqpage'));
          const adapter = store.adapter;
          const page = adapter.changesWithSequence?.bind(adapter);
          ok(page !== undefined, 'adapter.changesWithSequence exists');
          if (page === undefined) return;
          equal(await page(0, { limit: 10 }), { records: [], sequence: { lastSyncId: 0, compactedThrough: 0 } }, 'an empty store: no records, counter 0');
          for (let i = 0; i < 6; i++) await store.insert(i % 2 === 0 ? 'a' : 'b', { id: `d${i}`, n: i });
          await store.update('a', { id: 'd0', n: 10 });
          await store.delete('b', 'd1');
          for (const [after, options] of [
            [0, { limit: 100 }],
            [2, { limit: 3 }],
            [0, { limit: 100, collections: ['b'] }],
            [3, { limit: 2, collections: ['a', 'b'] }],
            [8, { limit: 5 }],
          ] as const) {
            const got = await page(after, options);
            equal(got.records, await adapter.changes(after, options), `changesWithSequence(${after}, ${show(options)}).records equal changes()`);
            equal(got.sequence, await adapter.sequence(), `changesWithSequence(${after}, ${show(options)}).sequence equals sequence()`);
          }
          // Commits running while pages are read: each page is one state, so with inserts only
          // it holds exactly the ids from the cursor up to its own counter (nothing skipped).
          const writes: Promise<unknown>[] = [];
          const reads: Promise<{ readonly records: StoredRecord[]; readonly sequence: SequenceState }>[] = [];
          const base = 8;
          for (let i = 0; i < 30; i++) {
            writes.push(store.insert('c', { id: `c${i}` }));
            if (i % 3 === 0) reads.push(page(base, { limit: 1000, collections: ['c'] }));
          }
          await Promise.all(writes);
          for (const got of await Promise.all(reads)) {
            const ids = got.records.map((r) => r.syncId);
            const want = Array.from({ length: got.sequence.lastSyncId - base }, (_, i) => base + 1 + i);
            equal(ids, want, `a page read during commits holds every id from ${base + 1} to its counter ${got.sequence.lastSyncId}`);
          }
        }),
    },
    {
      name: 'compaction: tombstones up to the watermark go, live documents stay, older cursors must reset',
      requires: needs('compaction'),
      run: (scope) =>
        scope.child(async (s) => {
          const store = await s.store(s.storeName('compact'));
          await store.insert('a', { id: 'gone' });
          await store.insert('a', { id: 'live' });
          const tomb = await store.delete('a', 'gone');
          await store.insert('a', { id: 'late' });
          const lateTomb = await store.delete('a', 'late');
          const removed = await store.compact(tomb._sync_id);
          equal(removed, 1, 'compact(through) removes the tombstones at or below through, and reports how many');
          const changes = await store.changesSince(0, { limit: 100 });
          equal(
            changes.changes.map((c) => c.id),
            ['live', 'late'],
            'after compaction: live documents and newer tombstones remain, the compacted tombstone is gone',
          );
          equal(changes.changes[1]?.syncId, lateTomb._sync_id, 'the newer tombstone is untouched');
          await rejects(() => store.changesSince(1), 'RESET_REQUIRED', 'a cursor older than the compaction watermark');
          equal((await store.changesSince(tomb._sync_id)).changes.length, 1, 'a cursor at the watermark is fine');
          equal(await store.compact(0), 0, 'a lower watermark removes nothing');
          await rejects(() => store.changesSince(1), 'RESET_REQUIRED', 'the watermark never goes down');
        }),
    },
  ],
};
