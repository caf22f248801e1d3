/**
 * The CSE layer on the adapter: TriangularStore. Identity is immutable; a save of equal content
 * writes nothing (`changed: false`, no sync id burnt); `loadSnapshot` is one consistent read;
 * `deleteWorker` tombstones all three documents in one commit.
 */
import type { Store } from '@cse/core';
import { Registry, TriangularStore, openStore, userFields } from '@cse/core';
import fc from 'fast-check';
import { equal, ok, rejects, show } from '../assert.js';
import { tickingClock } from '../context.js';
import { drain, instrument } from '../fixtures.js';
import type { Group } from '../group.js';
import { checkProperty } from '../property.js';

const WORKER_TYPE = 'container';

function triangular(store: Store): { registry: Registry; tri: TriangularStore } {
  const registry = new Registry();
  registry.registerWorkerType(WORKER_TYPE);
  return { registry, tri: new TriangularStore(store, registry) };
}

const contentArb = fc.record({ state: fc.constantFrom('on', 'off'), level: fc.integer({ min: 0, max: 2 }) }, { requiredKeys: [] });

type Save = { readonly who: 0 | 1; readonly part: 'desired' | 'observed'; readonly worker: string; readonly content: Record<string, unknown> };
const saveArb: fc.Arbitrary<Save> = fc.record({
  who: fc.constantFrom(0 as const, 1 as const),
  part: fc.constantFrom('desired' as const, 'observed' as const),
  worker: fc.constantFrom('w1', 'w2'),
  content: contentArb,
});

export const triangularStoreGroupDef: Group = {
  id: 'triangular-store',
  title: 'CSE: TriangularStore',
  checks: [
    {
      name: 'identity is immutable: the same identity again is a no-op, a different one is CONFLICT and writes nothing',
      run: (scope) =>
        checkProperty(
          scope,
          'triangular: identity',
          fc.asyncProperty(contentArb, contentArb, (first, second) =>
            scope.child(async (s) => {
              const store = await s.store(s.storeName('identity'));
              const { tri } = triangular(store);
              const saved = await tri.saveIdentity(WORKER_TYPE, 'w', first);
              equal(saved.changed, true, 'the first identity save writes');
              const last = await store.lastSyncId();
              const again = await tri.saveIdentity(WORKER_TYPE, 'w', { ...first });
              equal(again.changed, false, 'saving the same identity again is a no-op');
              equal(again.doc, saved.doc, 'and returns the stored identity');
              if (!sameContent(first, second)) {
                const e = await rejects(() => tri.saveIdentity(WORKER_TYPE, 'w', second), 'CONFLICT', 'saving a different identity');
                equal((e as { current?: unknown }).current, saved.doc, 'the CONFLICT carries the stored identity');
              }
              equal(await store.lastSyncId(), last, 'no identity save after the first burnt a sync id');
              equal(await tri.loadIdentity(WORKER_TYPE, 'w'), saved.doc, 'the stored identity is the first one');
            }),
          ),
          { scale: 0.5 },
        ),
    },
    {
      name: 'a save of equal content reports changed: false and burns no sync id (two instances on one store)',
      run: (scope) =>
        checkProperty(
          scope,
          'triangular: no-op saves',
          fc.asyncProperty(fc.array(saveArb, { minLength: 1, maxLength: 25 }), (saves) =>
            scope.child(async (s) => {
              const store = await s.store(s.storeName('noop'));
              const instances = [triangular(store).tri, triangular(store).tri];
              const stored = new Map<string, Record<string, unknown>>();
              for (const save of saves) {
                const key = `${save.part}/${save.worker}`;
                const before = await store.lastSyncId();
                const tri = instances[save.who] as TriangularStore;
                const result = save.part === 'desired' ? await tri.saveDesired(WORKER_TYPE, save.worker, save.content) : await tri.saveObserved(WORKER_TYPE, save.worker, save.content);
                const previous = stored.get(key);
                const changed = previous === undefined || !sameContent(previous, save.content);
                equal(result.changed, changed, `instance ${save.who} saving ${key} ${show(save.content)} over ${show(previous)}: changed`);
                equal(await store.lastSyncId(), changed ? before + 1 : before, `a ${changed ? 'changed' : 'no-op'} save takes ${changed ? 'one sync id' : 'no sync id'}`);
                equal(userFields(result.doc), { ...save.content, id: save.worker }, 'the save returns the stored content');
                stored.set(key, save.content);
                const load = save.part === 'desired' ? tri.loadDesired.bind(tri) : tri.loadObserved.bind(tri);
                equal(await load(WORKER_TYPE, save.worker), result.doc, `load${save.part} returns what the save returned`);
              }
            }),
          ),
          { scale: 0.6 },
        ),
    },
    {
      name: 'saves with expectedVersion: the right one writes, a stale one is CONFLICT',
      run: (scope) =>
        scope.child(async (s) => {
          const store = await s.store(s.storeName('tri-version'));
          const { tri } = triangular(store);
          const first = await tri.saveDesired(WORKER_TYPE, 'w', { state: 'on' }, { expectedVersion: 0 });
          equal(first.doc._version, 1, 'a first save expecting absence creates version 1');
          const second = await tri.saveDesired(WORKER_TYPE, 'w', { state: 'off' }, { expectedVersion: 1 });
          equal(second.doc._version, 2, 'a save expecting the current version writes');
          await rejects(() => tri.saveDesired(WORKER_TYPE, 'w', { state: 'on' }, { expectedVersion: 1 }), 'CONFLICT', 'a save expecting a stale version');
          equal(await tri.loadDesired(WORKER_TYPE, 'w'), second.doc, 'the stale save changed nothing');
        }),
    },
    {
      name: 'deleteWorker tombstones the three documents in one commit',
      run: (scope) =>
        scope.child(async (s) => {
          const store = await s.store(s.storeName('tri-delete'));
          const { tri, registry } = triangular(store);
          await tri.saveIdentity(WORKER_TYPE, 'w', { kind: 'x' });
          await tri.saveDesired(WORKER_TYPE, 'w', { state: 'on' });
          await tri.saveObserved(WORKER_TYPE, 'w', { state: 'off' });
          const before = await store.lastSyncId();
          equal(await tri.deleteWorker(WORKER_TYPE, 'w'), 3, 'deleteWorker reports three deleted documents');
          const tombs = await drain(store, before);
          equal(tombs.length, 3, 'three tombstones follow');
          ok(tombs.every((t) => t.deleted), 'all three are tombstones');
          equal(
            tombs.map((t) => t.syncId),
            [before + 1, before + 2, before + 3],
            'the three tombstones took consecutive ids (one commit)',
          );
          const c = registry.getTriangularCollections(WORKER_TYPE);
          equal(tombs.map((t) => t.collection).sort(), [c.desired, c.identity, c.observed].sort(), 'one tombstone per role');
          equal(await tri.loadSnapshot(WORKER_TYPE, 'w'), { identity: undefined, desired: undefined, observed: undefined }, 'the snapshot is empty after deleteWorker');
        }),
    },
    {
      name: 'loadSnapshot never sees half a deleteWorker or half a save (scheduler)',
      run: (scope) =>
        checkProperty(
          scope,
          'triangular: snapshot consistency under fc.scheduler',
          fc.asyncProperty(fc.scheduler(), fc.integer({ min: 1, max: 4 }), (sch, readers) =>
            scope.child(async (s) => {
              const adapter = await s.adapter(s.storeName('snapshot'));
              const plain = openStore(adapter, { clock: tickingClock() });
              const { tri: setup } = triangular(plain);
              await setup.saveIdentity(WORKER_TYPE, 'w', { kind: 'x' });
              await setup.saveDesired(WORKER_TYPE, 'w', { state: 'on' });
              await setup.saveObserved(WORKER_TYPE, 'w', { state: 'on' });
              const { tri } = triangular(openStore(instrument(adapter, [], sch), { clock: tickingClock() }));
              const snapshots = sch.waitFor(Promise.all([tri.deleteWorker(WORKER_TYPE, 'w'), ...Array.from({ length: readers }, () => tri.loadSnapshot(WORKER_TYPE, 'w'))]));
              const [, ...seen] = await snapshots;
              for (const snap of seen) {
                const present = [snap.identity, snap.desired, snap.observed].map((d) => d !== undefined);
                ok(present.every((p) => p === present[0]), `a snapshot saw half a deleteWorker: ${show(present)}`);
              }
            }),
          ),
          { scale: 0.5 },
        ),
    },
  ],
};

function sameContent(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((k) => a[k] === b[k]);
}
