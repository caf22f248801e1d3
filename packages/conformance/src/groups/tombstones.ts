/**
 * Guarantee 6: delete leaves a tombstone (`_deleted: true`, new `_sync_id` and `_version`) that
 * `changesSince` returns and that `get`, `getMany` and `find` hide.
 */
import fc from 'fast-check';
import { equal, ok, rejects, show } from '../assert.js';
import { COLLECTIONS, IDS, applyWrite, drain, plainWriteArb } from '../fixtures.js';
import type { StorageAdapter, StoredRecord } from '@cse/core';
import type { Group } from '../group.js';
import { checkProperty } from '../property.js';

const TOMBSTONE_KEYS = ['_created_at', '_deleted', '_deleted_at', '_sync_id', '_updated_at', '_version', 'id'];

const SYSTEM = '_cse_probe';

/** The tombstone of `SYSTEM`/`gone` at `syncId` is still there: in `changes`, `scanCollection` and `getMany`. */
async function systemTombstoneKept(adapter: StorageAdapter, syncId: number, where: string): Promise<void> {
  const isIt = (r: StoredRecord | undefined): boolean => r !== undefined && r.id === 'gone' && r.deleted && r.syncId === syncId;
  ok((await adapter.changes(0, { limit: 1000 })).some(isIt), `${where}: the tombstone of ${SYSTEM}/gone (_sync_id ${syncId}) is missing from changes(0)`);
  ok((await adapter.scanCollection(SYSTEM)).some(isIt), `${where}: the tombstone of ${SYSTEM}/gone is missing from scanCollection`);
  ok(isIt((await adapter.getMany([{ collection: SYSTEM, id: 'gone' }]))[0]), `${where}: getMany does not return the tombstone of ${SYSTEM}/gone`);
  equal((await adapter.sequence()).compactedThrough, 0, `${where}: nothing was compacted, the watermark stays 0`);
}

export const tombstonesGroupDef: Group = {
  id: 'tombstones',
  title: '6. Tombstones',
  checks: [
    {
      name: 'tombstones of system (_-prefixed) collections stay until compaction, across reopen',
      run: (scope) =>
        scope.child(async (s) => {
          const name = s.storeName('systomb');
          const store = await s.store(name);
          const now = new Date().toISOString();
          const put = (id: string) => ({ collection: SYSTEM, id, kind: 'put' as const, body: { id, n: 1 } });
          const first = await store.adapter.commit({ writes: [put('gone'), put('kept')], now });
          ok(first.ok, 'a commit to a system collection');
          const del = await store.adapter.commit({ writes: [{ collection: SYSTEM, id: 'gone', kind: 'delete' }], now });
          ok(del.ok, 'a delete in a system collection');
          const syncId = del.ok ? (del.records[0] as StoredRecord).syncId : 0;
          await systemTombstoneKept(store.adapter, syncId, 'right after the delete');
          if (s.caps.multiProcess) await systemTombstoneKept(await s.adapter(name), syncId, 'from a second instance');
          if (s.caps.persistent) {
            await s.closeOne(store);
            await systemTombstoneKept(await s.adapter(name), syncId, 'after close and reopen');
            await systemTombstoneKept(await s.adapter(name), syncId, 'after a second reopen');
          }
        }),
    },
    {
      name: 'a deleted document is hidden from get, getMany, find and transactions, and synced as a tombstone',
      run: (scope) =>
        scope.child(async (s) => {
          const store = await s.store(s.storeName('tomb'));
          const doc = await store.insert('a', { id: 'x', secret: 'gone', n: 1 });
          await store.insert('a', { id: 'y', n: 1 });
          const tomb = await store.delete('a', 'x');
          equal(tomb._deleted, true, 'delete returns the tombstone with _deleted: true');
          equal(tomb._version, doc._version + 1, 'the tombstone has a new _version');
          ok(tomb._sync_id > doc._sync_id, 'the tombstone has a new, larger _sync_id');
          equal(Object.keys(tomb).sort(), TOMBSTONE_KEYS, `a tombstone keeps no user fields: ${show(tomb)}`);
          equal(tomb._created_at, doc._created_at, 'the tombstone keeps _created_at');
          equal(await store.get('a', 'x'), undefined, 'get hides the tombstone');
          equal((await store.getMany('a', ['x', 'y'])).map((d) => d?.id), [undefined, 'y'], 'getMany hides the tombstone');
          equal((await store.find('a')).map((d) => d.id), ['y'], 'find hides the tombstone');
          equal((await store.find('a', { filter: { n: 1 } })).map((d) => d.id), ['y'], 'a filtered find hides the tombstone');
          equal(await store.transaction((tx) => tx.get('a', 'x')), undefined, 'a transaction read hides the tombstone');
          const changes = await drain(store, doc._sync_id);
          const synced = changes.find((c) => c.id === 'x');
          ok(synced !== undefined, 'changesSince returns the tombstone');
          equal(synced?.deleted, true, 'the change is marked deleted');
          equal(synced?.doc, tomb, 'the change carries the tombstone document');
          equal(await store.listCollections(), ['a'], 'a collection with only a tombstone still counts (it has a record)');
          await rejects(() => store.delete('a', 'x'), 'NOT_FOUND', 'deleting a tombstone again');
          await rejects(() => store.update('a', { id: 'x' }), 'NOT_FOUND', 'updating a tombstone');
          const back = await store.insert('a', { id: 'x', again: true });
          equal(back._version, tomb._version + 1, 'a re-insert continues the version after the tombstone');
          equal(back.secret, undefined, 'a re-inserted document does not resurrect old fields');
        }),
    },
    {
      name: 'deletes in random histories: get never shows a tombstone, changesSince always does',
      run: (scope) =>
        checkProperty(
          scope,
          'tombstones: random histories',
          fc.asyncProperty(fc.array(plainWriteArb, { maxLength: 30 }), (writes) =>
            scope.child(async (s) => {
              const store = await s.store(s.storeName('tomb-rand'));
              const deleted = new Set<string>();
              for (const w of writes) {
                const r = await applyWrite(store, w);
                if (!r.ok) continue;
                if (w.kind === 'delete') deleted.add(`${w.c}\u0000${w.id}`);
                else deleted.delete(`${w.c}\u0000${w.id}`);
              }
              const changes = await drain(store, 0);
              for (const c of COLLECTIONS) {
                const found = new Set((await store.find(c)).map((d) => d.id));
                for (const id of IDS) {
                  const key = `${c}\u0000${id}`;
                  const change = changes.find((x) => x.collection === c && x.id === id);
                  const doc = await store.get(c, id);
                  if (deleted.has(key)) {
                    equal(doc, undefined, `get(${c}, ${JSON.stringify(id)}) hides the deleted document`);
                    ok(!found.has(id), `find(${c}) hides the deleted ${JSON.stringify(id)}`);
                    ok(change?.deleted === true && change.doc._deleted === true, `changesSince shows ${c}/${JSON.stringify(id)} as a tombstone`);
                  } else if (change !== undefined) {
                    equal(change.deleted, false, `${c}/${JSON.stringify(id)} is live in changesSince`);
                    equal(doc, change.doc, `get and changesSince agree on ${c}/${JSON.stringify(id)}`);
                    ok(found.has(id), `find(${c}) shows the live ${JSON.stringify(id)}`);
                  }
                }
              }
            }),
          ),
          { scale: 0.6 },
        ),
    },
  ],
};
