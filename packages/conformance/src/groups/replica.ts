/**
 * The replica write path (`Replica`, what `@cse/sync` keeps a Frontend's copy with): origin
 * metadata (`_edge_sync_id`, `_edge_version`, `_conflict`) is kept beside the local metadata
 * only on this path, system and application documents commit atomically together, and all of
 * it survives a reopen. The ordinary write path drops those fields.
 */
import type { Store } from '@cse/core';
import { Replica } from '@cse/core';
import fc from 'fast-check';
import { equal, ok, rejects } from '../assert.js';
import type { Group } from '../group.js';
import { checkProperty } from '../property.js';

type Op =
  | { readonly k: 'put'; readonly id: string; readonly s: number; readonly v: number; readonly body: { n: number }; readonly conflict: boolean }
  | { readonly k: 'delete'; readonly id: string }
  | { readonly k: 'fail'; readonly id: string };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    k: fc.constant('put' as const),
    id: fc.constantFrom('a', 'b', 'c'),
    s: fc.integer({ min: 0, max: 1000 }),
    v: fc.integer({ min: 0, max: 50 }),
    body: fc.record({ n: fc.integer() }),
    conflict: fc.boolean(),
  }),
  fc.record({ k: fc.constant('delete' as const), id: fc.constantFrom('a', 'b', 'c') }),
  fc.record({ k: fc.constant('fail' as const), id: fc.constantFrom('a', 'b', 'c') }),
);

type Model = Map<string, Record<string, unknown> | undefined>;

async function view(store: Store): Promise<{ docs: Record<string, unknown>; cursor: unknown }> {
  const docs: Record<string, unknown> = {};
  for (const d of await store.find('replicated')) {
    docs[d.id] = { n: d.n, _edge_sync_id: d._edge_sync_id, _edge_version: d._edge_version, _sync_status: d._sync_status, _conflict: d._conflict };
  }
  const [state] = await new Replica(store).getMany([{ collection: '_cse_replica_test', id: 'state' }]);
  return { docs, cursor: state?.doc.cursor };
}

export const replicaGroupDef: Group = {
  id: 'replica',
  title: 'Replica write path',
  checks: [
    {
      name: 'a replica commit keeps origin metadata, lands whole with its system documents, and survives reopen',
      run: (scope) =>
        checkProperty(
          scope,
          'replica: commits',
          fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 15 }), (ops) =>
            scope.child(async (s) => {
              const name = s.storeName('replica');
              const store = await s.store(name);
              const replica = new Replica(store);
              const model: Model = new Map();
              let cursor = 0;
              for (const [i, op] of ops.entries()) {
                const state = { collection: '_cse_replica_test', id: 'state', kind: 'put' as const, body: { cursor: i + 1 } };
                if (op.k === 'fail') {
                  // A precondition that fails: nothing of the batch, system document included, lands.
                  await rejects(
                    () => replica.commit([{ collection: 'replicated', id: op.id, kind: 'put', body: { n: -1 }, expect: { kind: 'version', version: 999 } }, state]),
                    'CONFLICT',
                    'a replica commit whose precondition fails',
                  );
                  continue;
                }
                if (op.k === 'delete') {
                  await replica.commit([{ collection: 'replicated', id: op.id, kind: 'delete' }, state]);
                  model.set(op.id, undefined);
                } else {
                  const meta = { _edge_sync_id: op.s, _edge_version: op.v, _sync_status: op.conflict ? 'conflict' : 'synced', ...(op.conflict ? { _conflict: { value: { n: op.body.n + 1 } } } : {}) };
                  await replica.commit([{ collection: 'replicated', id: op.id, kind: 'put', body: { ...op.body, ...meta } }, state]);
                  model.set(op.id, { n: op.body.n, ...meta, _conflict: op.conflict ? { value: { n: op.body.n + 1 } } : undefined });
                }
                cursor = i + 1;
              }
              const expected = {
                docs: Object.fromEntries([...model].filter(([, d]) => d !== undefined).sort(([a], [b]) => (a < b ? -1 : 1))),
                cursor: cursor === 0 ? undefined : cursor,
              };
              const sorted = (v: { docs: Record<string, unknown>; cursor: unknown }) => ({ docs: Object.fromEntries(Object.entries(v.docs).sort(([a], [b]) => (a < b ? -1 : 1))), cursor: v.cursor });
              equal(sorted(await view(store)), expected, 'the replica documents and the cursor document');
              if (s.caps.persistent) {
                await s.closeOne(store);
                equal(sorted(await view(await s.store(name))), expected, 'after close and reopen');
              }
            }),
          ),
          { scale: 0.5 },
        ),
    },
    {
      name: 'the ordinary write path drops replica metadata; bad replica metadata is VALIDATION before anything is written',
      run: (scope) =>
        scope.child(async (s) => {
          const store = await s.store(s.storeName('replica-meta'));
          const saved = await store.insert('replicated', { id: 'x', n: 1, _edge_sync_id: 5, _edge_version: 2, _conflict: { value: {} } } as never);
          ok(!('_edge_sync_id' in saved) && !('_conflict' in saved), 'insert drops _edge_sync_id and _conflict (they are never trusted from a caller)');
          const before = await store.lastSyncId();
          await rejects(() => new Replica(store).commit([{ collection: 'replicated', id: 'y', kind: 'put', body: { _edge_version: -1 } }]), 'VALIDATION', 'a negative _edge_version');
          await rejects(() => new Replica(store).commit([{ collection: 'replicated', id: 'y', kind: 'put', body: { _sync_status: 'maybe' } }]), 'VALIDATION', 'an unknown _sync_status');
          equal(await store.lastSyncId(), before, 'rejected replica commits take no sync id');
        }),
    },
  ],
};
