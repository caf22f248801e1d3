/** Guarantee 1: one durable counter per store; ids unique and strictly increasing in commit order. */
import { openStore } from '@cse/core';
import fc from 'fast-check';
import { equal, ok, show } from '../assert.js';
import { tickingClock } from '../context.js';
import type { AdapterEvent, PlainWrite } from '../fixtures.js';
import { applyWrite, checkCommitOrder, collectionArb, drain, idArb, instrument, plainWriteArb, smallBodyArb } from '../fixtures.js';
import type { Group } from '../group.js';
import { needs } from '../group.js';
import { checkProperty } from '../property.js';

export const syncIdGroupDef: Group = {
  id: 'sync-ids',
  title: '1. Sync ids',
  checks: [
    {
      name: 'every accepted write takes a new, larger id; a rejected write takes none',
      run: (scope) =>
        checkProperty(
          scope,
          'sync ids: sequential writes',
          fc.asyncProperty(fc.array(plainWriteArb, { maxLength: 30 }), (writes) =>
            scope.child(async (s) => {
              const store = await s.store(s.storeName('ids'));
              equal(await store.lastSyncId(), 0, 'a new store starts at lastSyncId 0');
              let last = 0;
              for (const w of writes) {
                const r = await applyWrite(store, w);
                const now = await store.lastSyncId();
                if (r.ok) {
                  ok(r.syncId > last, `${show(w)} got _sync_id ${r.syncId}, not above the previous ${last}`);
                  equal(now, r.syncId, `after ${show(w)}: lastSyncId is the id just handed out`);
                  last = r.syncId;
                } else {
                  equal(now, last, `after the rejected ${show(w)} (${r.code}): lastSyncId must not move`);
                }
              }
              const ids = (await drain(store, 0)).map((c) => c.syncId);
              ok(new Set(ids).size === ids.length, `changesSince(0) repeats an id: ${show(ids)}`);
            }),
          ),
        ),
    },
    {
      name: 'a transaction of k writes takes k increasing ids, all above earlier ones',
      run: (scope) =>
        checkProperty(
          scope,
          'sync ids: transactions',
          fc.asyncProperty(fc.uniqueArray(fc.tuple(collectionArb, idArb, smallBodyArb), { minLength: 1, maxLength: 6, selector: ([c, id]) => `${c}/${id}` }), (docs) =>
            scope.child(async (s) => {
              const store = await s.store(s.storeName('ids-tx'));
              await store.insert('a', { id: 'seed' });
              const before = await store.lastSyncId();
              await store.transaction(async (tx) => {
                for (const [c, id, body] of docs) await tx.upsert(c, { ...body, id });
              });
              const after = await store.lastSyncId();
              const changes = await drain(store, before);
              equal(changes.length, docs.length, `a transaction of ${docs.length} writes shows ${docs.length} changes after the cursor`);
              ok(after >= before + docs.length, `lastSyncId moved from ${before} to ${after} for ${docs.length} writes`);
              equal(Math.max(...changes.map((c) => c.syncId)), after, 'the largest new id is lastSyncId');
            }),
          ),
          { scale: 0.5 },
        ),
    },
    {
      name: 'ids keep increasing across close and reopen',
      requires: needs('persistent'),
      run: (scope) =>
        checkProperty(
          scope,
          'sync ids: reopen',
          fc.asyncProperty(fc.array(fc.array(plainWriteArb, { maxLength: 8 }), { minLength: 2, maxLength: 4 }), (rounds) =>
            scope.child(async (s) => {
              const name = s.storeName('ids-reopen');
              let last = 0;
              for (const writes of rounds) {
                const store = await s.store(name);
                equal(await store.lastSyncId(), last, 'after reopen, lastSyncId is where it was before close');
                // One write that always succeeds, so every round takes an id.
                const marker: PlainWrite = { kind: 'upsert', c: 'a', id: 'marker', body: { round: last } };
                for (const w of [marker, ...writes]) {
                  const r = await applyWrite(store, w);
                  if (!r.ok) continue;
                  ok(r.syncId > last, `after reopen, ${show(w)} got _sync_id ${r.syncId}, not above ${last} handed out before`);
                  last = r.syncId;
                }
                await s.closeOne(store);
              }
            }),
          ),
          { scale: 0.4 },
        ),
    },
    {
      name: 'concurrent commits (scheduler): ids unique, and in real-time commit order',
      run: (scope) =>
        checkProperty(
          scope,
          'sync ids: concurrent commits under fc.scheduler',
          fc.asyncProperty(fc.scheduler(), fc.array(plainWriteArb, { minLength: 2, maxLength: 8 }), (sch, writes) =>
            scope.child(async (s) => {
              const log: AdapterEvent[] = [];
              const adapter = await s.adapter(s.storeName('ids-sched'));
              const store = openStore(instrument(adapter, log, sch), { clock: tickingClock() });
              const results = await sch.waitFor(Promise.all(writes.map((w) => applyWrite(store, w))));
              checkCommitOrder(log, 'concurrent commits');
              const ids = results.flatMap((r) => (r.ok ? [r.syncId] : []));
              ok(new Set(ids).size === ids.length, `two writes got the same id: ${show(ids)}`);
              const last = await openStore(adapter).lastSyncId();
              ok(ids.every((id) => id <= last), `lastSyncId ${last} is below an id handed out (${show(ids)})`);
            }),
          ),
          { scale: 0.6 },
        ),
    },
  ],
};
