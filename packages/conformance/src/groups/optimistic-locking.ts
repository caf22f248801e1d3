/**
 * Guarantee 3: `_version` is 1 on insert and +1 per accepted write; a stale expected version is a
 * `ConflictError` carrying the current document and changes nothing; of N concurrent writers with
 * the same expected version exactly one wins.
 */
import type { Doc, Store } from '@cse/core';
import { isCseError, openStore } from '@cse/core';
import fc from 'fast-check';
import { equal, fail, ok, rejects, show } from '../assert.js';
import { tickingClock } from '../context.js';
import type { Scope } from '../context.js';
import type { AdapterEvent } from '../fixtures.js';
import { dump, instrument, smallBodyArb } from '../fixtures.js';
import type { Group } from '../group.js';
import { checkProperty } from '../property.js';

type Racer = { readonly kind: 'update' | 'upsert'; readonly body: Record<string, unknown> } | { readonly kind: 'delete' };
const racerArb: fc.Arbitrary<Racer> = fc.oneof(
  fc.record({ kind: fc.constantFrom('update' as const, 'upsert' as const), body: smallBodyArb }),
  fc.constant({ kind: 'delete' as const }),
);

async function race(store: Store, racer: Racer, version: number): Promise<Doc | Error> {
  try {
    if (racer.kind === 'delete') return await store.delete('a', 'doc', { expectedVersion: version });
    return await store[racer.kind]('a', { ...racer.body, id: 'doc' }, { expectedVersion: version });
  } catch (e) {
    return e as Error;
  }
}

async function oneWinner(scope: Scope, sch: fc.Scheduler | undefined, prior: number, racers: readonly Racer[]): Promise<void> {
  await scope.child(async (s) => {
    const log: AdapterEvent[] = [];
    const adapter = await s.adapter(s.storeName('race'));
    const plain = openStore(adapter, { clock: tickingClock() });
    let doc = await plain.insert('a', { id: 'doc', v: 0 });
    for (let i = 0; i < prior; i++) doc = await plain.update('a', { id: 'doc', v: i + 1 });
    const store = openStore(instrument(adapter, log, sch), { clock: tickingClock(Date.UTC(2025, 0, 1)) });
    const racing = Promise.all(racers.map((r) => race(store, r, doc._version)));
    const results = await (sch ? sch.waitFor(racing) : racing);
    const winners = results.filter((r): r is Doc => !(r instanceof Error));
    const losers = results.filter((r): r is Error => r instanceof Error);
    equal(winners.length, 1, `exactly one of ${racers.length} writers expecting version ${doc._version} wins (errors: ${show(losers.map((e) => e.message))})`);
    for (const e of losers) {
      ok(isCseError(e, 'CONFLICT'), `a losing writer gets CONFLICT, got ${isCseError(e) ? e.code : `${e.name}: ${e.message}`}`);
    }
    const winner = winners[0] as Doc;
    equal(winner._version, doc._version + 1, 'the winner wrote version + 1');
    const [record] = await adapter.getMany([{ collection: 'a', id: 'doc' }]);
    equal(record?.doc, winner, 'the stored document is the winner’s write');
    for (const e of losers) {
      const current = (e as { current?: unknown }).current;
      equal(current, winner._deleted === true ? undefined : winner, 'a loser’s ConflictError carries the current (winning) document');
    }
  });
}

export const optimisticLockingGroupDef: Group = {
  id: 'optimistic-locking',
  title: '3. Optimistic locking',
  checks: [
    {
      name: 'versions: 1 on insert, +1 on every accepted write, continuing after delete and re-insert',
      run: (scope) =>
        checkProperty(
          scope,
          'optimistic locking: version rules',
          fc.asyncProperty(fc.array(fc.constantFrom('insert', 'update', 'upsert', 'delete'), { maxLength: 25 }), (ops) =>
            scope.child(async (s) => {
              const store = await s.store(s.storeName('versions'));
              let version = 0;
              let live = false;
              for (const op of ops) {
                const shouldWork = op === 'upsert' || (op === 'insert' ? !live : live);
                let doc: Doc | undefined;
                try {
                  doc = op === 'delete' ? await store.delete('a', 'v') : await store[op as 'insert' | 'update' | 'upsert']('a', { id: 'v', op });
                } catch (e) {
                  if (shouldWork) throw e;
                  ok(isCseError(e, op === 'insert' ? 'CONFLICT' : 'NOT_FOUND'), `${op} on a ${live ? 'live' : 'missing'} document: wrong error ${String(e)}`);
                  continue;
                }
                ok(shouldWork, `${op} on a ${live ? 'live' : 'missing'} document must fail, but it wrote version ${doc._version}`);
                version += 1;
                live = op !== 'delete';
                equal(doc._version, version, `${op} returns _version ${version}`);
                equal((await store.get('a', 'v'))?._version, live ? version : undefined, `get after ${op}`);
              }
            }),
          ),
        ),
    },
    {
      name: 'a stale expected version is a CONFLICT carrying the current document, and changes nothing',
      run: (scope) =>
        checkProperty(
          scope,
          'optimistic locking: stale writers',
          fc.asyncProperty(
            fc.integer({ min: 0, max: 4 }),
            fc.constantFrom('update', 'upsert', 'delete', 'insert', 'update0'),
            fc.integer({ min: -3, max: 3 }).filter((d) => d !== 0),
            (prior, op, delta) =>
              scope.child(async (s) => {
                const store = await s.store(s.storeName('stale'));
                let current = await store.insert('a', { id: 'doc', v: 0 });
                for (let i = 0; i < prior; i++) current = await store.update('a', { id: 'doc', v: i + 1 });
                await store.insert('b', { id: 'other' });
                const before = await dump(store);
                const stale = Math.max(1, current._version + delta) === current._version ? current._version + 1 : Math.max(1, current._version + delta);
                const e = await rejects(
                  () =>
                    op === 'insert'
                      ? store.insert('a', { id: 'doc', v: 'new' })
                      : op === 'update0'
                        ? store.update('a', { id: 'doc', v: 'new' }, { expectedVersion: 0 })
                        : op === 'delete'
                          ? store.delete('a', 'doc', { expectedVersion: stale })
                          : store[op as 'update' | 'upsert']('a', { id: 'doc', v: 'new' }, { expectedVersion: stale }),
                  'CONFLICT',
                  `${op} of version ${current._version} expecting ${op === 'insert' || op === 'update0' ? 'absence' : stale}`,
                );
                equal((e as { current?: unknown }).current, current, 'the ConflictError carries the current document');
                equal(await dump(store), before, 'a rejected write changes nothing (documents, changes, lastSyncId)');
              }),
          ),
        ),
    },
    {
      name: 'N concurrent writers with the same expected version (scheduler): exactly one wins',
      run: (scope) =>
        checkProperty(
          scope,
          'optimistic locking: one winner under fc.scheduler',
          fc.asyncProperty(fc.scheduler(), fc.integer({ min: 0, max: 2 }), fc.array(racerArb, { minLength: 2, maxLength: 5 }), (sch, prior, racers) =>
            oneWinner(scope, sch, prior, racers),
          ),
          { scale: 0.8 },
        ),
    },
    {
      name: 'N concurrent writers with the same expected version (real timing): exactly one wins',
      run: (scope) =>
        checkProperty(
          scope,
          'optimistic locking: one winner, real concurrency',
          fc.asyncProperty(fc.integer({ min: 0, max: 2 }), fc.array(racerArb, { minLength: 2, maxLength: 8 }), (prior, racers) =>
            oneWinner(scope, undefined, prior, racers),
          ),
          { scale: 0.6 },
        ),
    },
    {
      name: 'concurrent inserts of one id: exactly one wins',
      run: (scope) =>
        checkProperty(
          scope,
          'optimistic locking: racing inserts',
          fc.asyncProperty(fc.scheduler(), fc.integer({ min: 2, max: 5 }), (sch, n) =>
            scope.child(async (s) => {
              const adapter = await s.adapter(s.storeName('insert-race'));
              const store = openStore(instrument(adapter, [], sch), { clock: tickingClock() });
              const results = await sch.waitFor(Promise.all(Array.from({ length: n }, (_, i) => store.insert('a', { id: 'same', writer: i }).catch((e: unknown) => e as Error))));
              const winners = results.filter((r) => !(r instanceof Error));
              equal(winners.length, 1, `exactly one of ${n} inserts of one id wins`);
              for (const r of results) if (r instanceof Error) ok(isCseError(r, 'CONFLICT'), `a losing insert gets CONFLICT, got ${r.message}`);
            }),
          ),
          { scale: 0.5 },
        ),
    },
    {
      name: 'a transaction whose read was overtaken fails with CONFLICT and writes nothing',
      run: (scope) =>
        scope.child(async (s) => {
          const store = await s.store(s.storeName('tx-read'));
          await store.insert('a', { id: 'read', v: 1 });
          await store.insert('a', { id: 'write', v: 1 });
          let outside: Doc | undefined;
          await rejects(
            () =>
              store.transaction(async (tx) => {
                await tx.get('a', 'read');
                outside = await store.update('a', { id: 'read', v: 2 });
                await tx.update('a', { id: 'write', v: 2 });
              }),
            'CONFLICT',
            'committing a transaction whose read document changed meanwhile',
          );
          if (outside === undefined) fail('the outside write did not happen');
          equal((await store.get('a', 'write'))?.v, 1, 'the transaction’s write was not applied');
          equal(await store.get('a', 'read'), outside, 'the outside write stands');
        }),
    },
  ],
};
