/**
 * The adapter contract itself: every member of `StorageAdapter` called directly (no Store in
 * between, which would trim pages, hide tombstones and mask a wrong member), each result
 * compared with `MemoryAdapter` given the same calls. The Store-level groups cannot see an
 * adapter whose `changes` ignores `limit` or whose `scanCollection` drops tombstones; this one does.
 */
import type { CommitRequest, CommitResult, Expectation, StorageAdapter, StoredRecord, WriteOp } from '@cse/core';
import { MemoryAdapter } from '@cse/core';
import fc from 'fast-check';
import { equal, ok, show } from '../assert.js';
import type { Scope } from '../context.js';
import type { Group } from '../group.js';
import { all, needs } from '../group.js';
import { checkProperty } from '../property.js';

const COLLECTIONS = ['a', 'a-b', 'b'] as const;
const IDS = ['x', 'y', 'z', 'x\u0000y'] as const;

type Step =
  | { readonly t: 'commit'; readonly writes: readonly WriteOp[] }
  | { readonly t: 'compact'; readonly at: number }
  | { readonly t: 'reopen' };

const expectArb: fc.Arbitrary<Expectation | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.constant({ kind: 'absent' as const }),
  fc.constant({ kind: 'exists' as const }),
  fc.integer({ min: 0, max: 3 }).map((version) => ({ kind: 'version' as const, version })),
);

const writeArb: fc.Arbitrary<WriteOp> = fc
  .record({
    collection: fc.constantFrom(...COLLECTIONS),
    id: fc.constantFrom(...IDS),
    kind: fc.constantFrom<WriteOp['kind']>('put', 'put', 'delete', 'delete', 'check'),
    n: fc.integer({ min: 0, max: 9 }),
    expect: expectArb,
  })
  .map(({ collection, id, kind, n, expect }) => ({
    collection,
    id,
    kind,
    ...(kind === 'put' ? { body: { id, n, list: [], obj: {} } } : {}),
    ...(expect !== undefined ? { expect } : {}),
  }));

function stepsArb(caps: { persistent: boolean; compaction: boolean }): fc.Arbitrary<Step[]> {
  const commit = fc
    .uniqueArray(writeArb, { minLength: 1, maxLength: 4, selector: (w) => `${w.collection}\u0000${w.id}` })
    .map((writes): Step => ({ t: 'commit', writes }));
  const options: fc.Arbitrary<Step>[] = [commit, commit, commit, commit];
  if (caps.compaction) options.push(fc.double({ min: 0, max: 1, noNaN: true }).map((at): Step => ({ t: 'compact', at })));
  if (caps.persistent) options.push(fc.constant<Step>({ t: 'reopen' }));
  return fc.array(fc.oneof(...options), { minLength: 1, maxLength: 14 });
}

const byKey = (a: StoredRecord, b: StoredRecord): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Mutates what an adapter returned: a later read shows whether the adapter kept a reference. */
function scribble(records: readonly (StoredRecord | undefined)[]): void {
  for (const r of records) {
    if (r === undefined) continue;
    (r.doc as Record<string, unknown>).scribbled = true;
    (r as { syncId: number }).syncId = -1;
  }
}

/** Compares every read member of `real` with `oracle`. */
async function compareReads(real: StorageAdapter, oracle: StorageAdapter, label: string): Promise<void> {
  const seq = await real.sequence();
  equal(seq, await oracle.sequence(), `${label}: sequence() (lastSyncId never falls below the highest id handed out; compactedThrough never lowers)`);
  equal(await real.listCollections(), await oracle.listCollections(), `${label}: listCollections() (sorted; collections holding only tombstones count)`);
  for (const c of [...COLLECTIONS, 'unknown']) {
    const got = await real.scanCollection(c);
    equal([...got].sort(byKey), (await oracle.scanCollection(c)).sort(byKey), `${label}: scanCollection(${show(c)}) (every record, tombstones included)`);
    scribble(got);
  }
  const keys = [...COLLECTIONS.flatMap((collection) => IDS.map((id) => ({ collection, id }))), { collection: 'unknown', id: 'x' }];
  const order = [...keys].reverse();
  const many = await real.getMany(order);
  equal(many, await oracle.getMany(order), `${label}: getMany(every key, reversed) (order of keys, tombstones returned, missing as undefined)`);
  scribble(many);
  const last = seq.lastSyncId;
  const afters = [...new Set([0, Math.floor(last / 3), Math.floor(last / 2), Math.max(0, last - 1), last])];
  for (const after of afters) {
    for (const limit of [1, 2, 3, 1000]) {
      for (const collections of [undefined, ['a'], ['a-b', 'b']] as const) {
        const options = { limit, ...(collections ? { collections } : {}) };
        const got = await real.changes(after, options);
        equal(got, await oracle.changes(after, options), `${label}: changes(${after}, ${show(options)}) (after the cursor, ascending, at most limit, the filter before the limit, each document once in its current state)`);
        scribble(got);
      }
    }
  }
}

async function runSteps(scope: Scope, steps: readonly Step[]): Promise<void> {
  await scope.child(async (s) => {
    const name = s.storeName('contract');
    let real = await s.adapter(name);
    const oracle = new MemoryAdapter();
    await compareReads(real, oracle, 'a new store');
    let clock = Date.UTC(2024, 0, 1);
    for (const [i, step] of steps.entries()) {
      const label = `after step ${i + 1} ${show(step, 300)}`;
      if (step.t === 'commit') {
        const request: CommitRequest = { writes: step.writes, now: new Date(clock++).toISOString() };
        const before = (await oracle.sequence()).lastSyncId;
        const expected = await oracle.commit(structuredClone(request));
        const got: CommitResult = await real.commit(structuredClone(request));
        equal(got, expected, `${label}: commit() result (all records of put/delete writes in order with consecutive syncIds, or every failed precondition with the record it saw)`);
        if (got.ok) {
          const n = step.writes.filter((w) => w.kind !== 'check').length;
          ok(n === 0 || (got.records[0] as StoredRecord).syncId === before + 1, `${label}: the first id of a commit is lastSyncId + 1`);
          scribble(got.records);
        } else {
          scribble(got.failures.map((f) => f.current));
        }
      } else if (step.t === 'compact') {
        const through = Math.floor(step.at * (await oracle.sequence()).lastSyncId);
        const compact = real.compact?.bind(real);
        ok(compact !== undefined, 'the adapter declares compaction but has no compact()');
        equal(await compact(through), await (oracle.compact as (t: number) => Promise<number>)(through), `${label}: compact(${through}) returns how many tombstones it removed`);
      } else {
        await s.closeOne(real);
        real = await s.adapter(name);
      }
      await compareReads(real, oracle, label);
    }
  });
}

export const adapterContractGroupDef: Group = {
  id: 'adapter-contract',
  title: 'Adapter contract: every member called directly',
  checks: [
    {
      name: 'a fixed sequence: limits, filters, tombstones, rejected and check-only commits, compaction, reopen',
      run: (scope) => {
        const put = (collection: string, id: string, n: number, expect?: Expectation): WriteOp => ({ collection, id, kind: 'put', body: { id, n, list: [], obj: {}, nested: [[], {}] }, ...(expect ? { expect } : {}) });
        const del = (collection: string, id: string): WriteOp => ({ collection, id, kind: 'delete' });
        const steps: Step[] = [
          { t: 'commit', writes: [put('a', 'x', 1), put('a', 'y', 1), put('b', 'x', 1)] },
          { t: 'commit', writes: [put('a-b', 'z', 1), put('a', 'z', 1)] },
          { t: 'commit', writes: [del('b', 'x')] },
          { t: 'commit', writes: [put('a', 'x', 2, { kind: 'version', version: 7 }), put('a', 'y', 2)] },
          { t: 'commit', writes: [{ collection: 'a', id: 'x', kind: 'check', expect: { kind: 'exists' } }] },
          { t: 'commit', writes: [put('a', 'x', 3), del('a', 'z')] },
        ];
        if (scope.caps.compaction) steps.push({ t: 'compact', at: 1 }, { t: 'compact', at: 0.5 });
        if (scope.caps.persistent) steps.push({ t: 'reopen' });
        steps.push({ t: 'commit', writes: [put('a', 'x\u0000y', 1)] }, { t: 'commit', writes: [del('a', 'x\u0000y')] });
        if (scope.caps.compaction) steps.push({ t: 'compact', at: 1 });
        if (scope.caps.persistent) steps.push({ t: 'reopen' }, { t: 'commit', writes: [put('a', 'y', 3)] });
        return runSteps(scope, steps);
      },
    },
    {
      name: 'random commits, compactions and reopens: every member answers as MemoryAdapter does',
      run: (scope) =>
        checkProperty(
          scope,
          'adapter contract: members against MemoryAdapter',
          fc.asyncProperty(stepsArb(scope.caps), (steps) => runSteps(scope, steps)),
          { scale: 0.6 },
        ),
    },
    {
      name: 'counter durability: delete the newest, compact through it, reopen, write',
      requires: all(needs('persistent'), needs('compaction')),
      run: (scope) =>
        checkProperty(
          scope,
          'adapter contract: the counter survives compaction of the newest tombstones and a reopen',
          fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), (live, deleted) => {
            const steps: Step[] = [];
            for (let i = 0; i < live; i++) steps.push({ t: 'commit', writes: [{ collection: 'a', id: IDS[i % IDS.length] as string, kind: 'put', body: { n: i } }] });
            for (let i = 0; i < deleted; i++) {
              const id = `${IDS[i % IDS.length] as string}`;
              steps.push({ t: 'commit', writes: [{ collection: 'b', id, kind: 'put', body: { n: i } }] }, { t: 'commit', writes: [{ collection: 'b', id, kind: 'delete' }] });
            }
            steps.push({ t: 'compact', at: 1 }, { t: 'reopen' }, { t: 'commit', writes: [{ collection: 'b', id: 'x', kind: 'put', body: { n: 99 } }] }, { t: 'reopen' });
            return runSteps(scope, steps);
          }),
          { scale: 0.2 },
        ),
    },
  ],
};
