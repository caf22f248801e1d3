/**
 * Guarantee 4: the writes of one commit land entirely or not at all. (Killed processes: see the
 * crash group; TxCache transactions: see the tx-cache group.)
 */
import type { JsonObject, WriteOp } from '@cse/core';
import { openStore, userFields } from '@cse/core';
import fc from 'fast-check';
import { equal, fail, ok, rejects, show } from '../assert.js';
import { tickingClock } from '../context.js';
import { COLLECTIONS, IDS, dump, instrument, smallBodyArb } from '../fixtures.js';
import type { Group } from '../group.js';
import { checkProperty } from '../property.js';

const keyArb = fc.tuple(fc.constantFrom(...COLLECTIONS), fc.constantFrom(...IDS));
const batchArb = fc.uniqueArray(fc.tuple(keyArb, fc.constantFrom('put', 'delete'), smallBodyArb), {
  minLength: 2,
  maxLength: 6,
  selector: ([[c, id]]) => `${c}\u0000${id}`,
});

export const atomicityGroupDef: Group = {
  id: 'atomicity',
  title: '4. Atomicity',
  checks: [
    {
      name: 'adapter.commit with one failing precondition writes nothing and takes no ids',
      run: (scope) =>
        checkProperty(
          scope,
          'atomicity: a failing write anywhere in a batch',
          fc.asyncProperty(batchArb, fc.nat(), fc.subarray([...COLLECTIONS.flatMap((c) => IDS.map((id) => [c, id] as const))], { maxLength: 6 }), (batch, pick, seeded) =>
            scope.child(async (s) => {
              const adapter = await s.adapter(s.storeName('batch'));
              const store = openStore(adapter, { clock: tickingClock() });
              for (const [c, id] of seeded) await store.upsert(c, { id, seeded: true });
              const before = await dump(store);
              const failing = pick % batch.length;
              const writes: WriteOp[] = batch.map(([[c, id], kind, body], i) => ({
                collection: c,
                id,
                kind: kind as 'put' | 'delete',
                ...(kind === 'put' ? { body: { ...body, id } as JsonObject } : {}),
                // The failing write expects a version no document has; the others expect nothing.
                ...(i === failing ? { expect: { kind: 'version' as const, version: 1_000_000 } } : {}),
              }));
              const result = await adapter.commit({ writes, now: new Date(Date.UTC(2024, 1, 1)).toISOString() });
              ok(!result.ok, `a batch whose write #${failing} expects version 1000000 must fail`);
              if (!result.ok) equal(result.failures.map((f) => f.index), [failing], 'the failure names the failing write');
              equal(await dump(store), before, `the failed batch ${show(writes.map((w) => `${w.kind} ${w.collection}/${w.id}`))} left no trace`);
            }),
          ),
        ),
    },
    {
      name: 'a successful batch lands entirely',
      run: (scope) =>
        checkProperty(
          scope,
          'atomicity: a whole batch lands',
          fc.asyncProperty(batchArb, (batch) =>
            scope.child(async (s) => {
              const store = await s.store(s.storeName('batch-ok'));
              for (const [[c, id]] of batch) await store.upsert(c, { id, old: true });
              const last = await store.lastSyncId();
              await store.transaction(async (tx) => {
                for (const [[c, id], kind, body] of batch) {
                  if (kind === 'put') await tx.update(c, { ...body, id });
                  else await tx.delete(c, id);
                }
              });
              for (const [[c, id], kind, body] of batch) {
                const doc = await store.get(c, id);
                if (kind === 'delete') equal(doc, undefined, `${c}/${id} was deleted by the batch`);
                else equal(doc && userFields(doc), { ...body, id }, `${c}/${id} was written by the batch`);
              }
              equal(await store.lastSyncId(), last + batch.length, 'the batch took one id per write');
            }),
          ),
          { scale: 0.5 },
        ),
    },
    {
      name: 'a transaction whose function throws writes nothing',
      run: (scope) =>
        scope.child(async (s) => {
          const store = await s.store(s.storeName('tx-throws'));
          await store.insert('a', { id: 'x', v: 1 });
          const before = await dump(store);
          const boom = new Error('boom');
          try {
            await store.transaction(async (tx) => {
              await tx.update('a', { id: 'x', v: 2 });
              await tx.insert('b', { id: 'y' });
              throw boom;
            });
            fail('the transaction did not rethrow the error of its function');
          } catch (e) {
            ok(e === boom, `the transaction rethrows its function's error as it is, got ${String(e)}`);
          }
          equal(await dump(store), before, 'nothing of the thrown transaction was written');
        }),
    },
    {
      name: 'a transaction failing at commit (a write conflicts) writes nothing',
      run: (scope) =>
        checkProperty(
          scope,
          'atomicity: transaction conflicting at commit',
          fc.asyncProperty(batchArb, fc.nat(), (batch, pick) =>
            scope.child(async (s) => {
              const store = await s.store(s.storeName('tx-conflict'));
              for (const [[c, id]] of batch) await store.upsert(c, { id, old: true });
              const [[vc, vid]] = batch[pick % batch.length] as (typeof batch)[number];
              await rejects(
                () =>
                  store.transaction(async (tx) => {
                    for (const [[c, id], kind, body] of batch) {
                      if (kind === 'put') await tx.update(c, { ...body, id });
                      else await tx.delete(c, id);
                    }
                    // Another writer overtakes one document between the reads and the commit.
                    await store.update(vc, { id: vid, overtaken: true });
                  }),
                'CONFLICT',
                'a transaction whose document was overtaken',
              );
              for (const [[c, id]] of batch) {
                const doc = await store.get(c, id);
                const expected = c === vc && id === vid ? { id, overtaken: true } : { id, old: true };
                equal(doc && userFields(doc), expected, `${c}/${id} after the failed transaction`);
              }
            }),
          ),
          { scale: 0.5 },
        ),
    },
    {
      name: 'readers never see half a commit (scheduler)',
      run: (scope) =>
        checkProperty(
          scope,
          'atomicity: consistent reads during commits',
          fc.asyncProperty(fc.scheduler(), fc.integer({ min: 2, max: 5 }), fc.integer({ min: 1, max: 3 }), (sch, width, rounds) =>
            scope.child(async (s) => {
              const adapter = await s.adapter(s.storeName('half'));
              const seedStore = openStore(adapter, { clock: tickingClock() });
              const ids = Array.from({ length: width }, (_, i) => `k${i}`);
              for (const id of ids) await seedStore.insert('a', { id, round: 0 });
              const store = openStore(instrument(adapter, [], sch), { clock: tickingClock() });
              const writer = (async () => {
                for (let r = 1; r <= rounds; r++) {
                  await store.transaction(async (tx) => {
                    for (const id of ids) await tx.update('a', { id, round: r });
                  });
                }
              })();
              const reads: number[][] = [];
              const reader = (async () => {
                for (let i = 0; i < rounds * 3; i++) reads.push((await store.getMany('a', ids)).map((d) => (d?.round as number | undefined) ?? -1));
              })();
              await sch.waitFor(Promise.all([writer, reader]));
              for (const r of reads) ok(r.every((v) => v === r[0]), `a multi-get saw half a commit: rounds ${show(r)}`);
            }),
          ),
          { scale: 0.5 },
        ),
    },
  ],
};
