/**
 * The CSE layer on the adapter: TxCache. A transaction's ops land in one atomic commit together
 * with the journal's "committed" mark; pending transactions are read from the store (so they
 * survive a restart) and `replay` finishes each exactly once.
 */
import type { CachedTx, Store } from '@cse/core';
import { OpType, TxCache, TxStatus } from '@cse/core';
import fc from 'fast-check';
import { equal, ok, outcome, show } from '../assert.js';
import { tickingClock } from '../context.js';
import { dump } from '../fixtures.js';
import type { Group } from '../group.js';
import { checkProperty } from '../property.js';

type Op = { readonly opType: OpType; readonly c: string; readonly id: string; readonly v: number };
const opArb: fc.Arbitrary<Op> = fc.record({
  opType: fc.constantFrom(OpType.Insert, OpType.Update, OpType.Upsert, OpType.Delete),
  c: fc.constantFrom('a', 'b'),
  id: fc.constantFrom('x', 'y', 'z'),
  v: fc.integer({ min: 0, max: 3 }),
});
type Script = { readonly ops: readonly Op[]; readonly end: 'commit' | 'rollback' | 'pending' };
const scriptArb: fc.Arbitrary<Script> = fc.record({
  ops: fc.array(opArb, { minLength: 1, maxLength: 4 }),
  end: fc.constantFrom('commit' as const, 'commit' as const, 'rollback' as const, 'pending' as const),
});

async function runScript(txs: TxCache, script: Script): Promise<{ txId: string; result: unknown }> {
  const txId = await txs.beginTx({ step: 'conformance' });
  for (const op of script.ops) {
    await txs.recordOp(txId, op.opType, op.c, op.opType === OpType.Delete ? { id: op.id } : { id: op.id, v: op.v });
  }
  if (script.end === 'pending') return { txId, result: 'left pending' };
  const result = await outcome(() => (script.end === 'commit' ? txs.commit(txId) : txs.rollback(txId)), `TxCache.${script.end}`);
  return { txId, result };
}

const APP = ['a', 'b'];

async function seed(store: Store): Promise<void> {
  await store.insert('a', { id: 'x', v: 9 });
  await store.insert('b', { id: 'y', v: 9 });
}

export const txCacheGroupDef: Group = {
  id: 'tx-cache',
  title: 'CSE: TxCache',
  checks: [
    {
      name: 'commit, rollback and conflicting transactions behave as on MemoryAdapter',
      run: (scope) =>
        checkProperty(
          scope,
          'tx cache: differential against MemoryAdapter',
          fc.asyncProperty(fc.array(scriptArb, { minLength: 1, maxLength: 6 }), (scripts) =>
            scope.child(async (s) => {
              const store = await s.store(s.storeName('txc'));
              const oracle = s.oracle();
              await seed(store);
              await seed(oracle);
              const real = new TxCache(store);
              const model = new TxCache(oracle);
              for (const script of scripts) {
                const a = await runScript(real, script);
                const b = await runScript(model, script);
                equal(a.result, b.result, `outcome of ${show(script)}`);
                equal((await real.getTx(a.txId))?.status, (await model.getTx(b.txId))?.status, `journal status after ${show(script)}`);
                equal(await dump(store, APP), await dump(oracle, APP), `application data after ${show(script)}`);
              }
              equal((await real.getPending()).length, (await model.getPending()).length, 'the same number of pending transactions');
            }),
          ),
          { scale: 0.6 },
        ),
    },
    {
      name: 'pending transactions are found again after a restart and replay finishes each exactly once',
      run: (scope) =>
        checkProperty(
          scope,
          'tx cache: restart and replay',
          fc.asyncProperty(fc.array(scriptArb, { minLength: 1, maxLength: 5 }), (scripts) =>
            scope.child(async (s) => {
              const name = s.storeName('replay');
              const clock = tickingClock();
              let store = await s.store(name, { clock });
              await seed(store);
              const oracle = s.oracle();
              await seed(oracle);
              const before = new TxCache(store);
              const model = new TxCache(oracle);
              const pendingIds: string[] = [];
              /** Real tx id → the oracle's tx id of the same script. */
              const twin = new Map<string, string>();
              for (const script of scripts) {
                const { txId } = await runScript(before, script);
                const { txId: modelId } = await runScript(model, script);
                twin.set(txId, modelId);
                if (script.end === 'pending') pendingIds.push(txId);
              }
              // A restart: reopen the store when the adapter is persistent, else a new TxCache on the same store.
              if (s.caps.persistent) {
                await s.closeOne(store);
                store = await s.store(name, { clock });
              }
              const after = new TxCache(store);
              const pending: CachedTx[] = await after.getPending();
              equal(
                pending.map((t) => t.txId).sort(),
                [...pendingIds].sort(),
                `getPending() after the restart lists exactly the pending transactions${s.caps.persistent ? ' (system collections must be persistent too)' : ''}`,
              );
              for (const tx of pending) {
                const script = scripts.filter((x) => x.end === 'pending')[pendingIds.indexOf(tx.txId)];
                equal(tx.ops.length, script?.ops.length, `pending transaction ${tx.txId} kept its ops`);
              }
              const report = await after.replay(pending);
              // The oracle replays in the order the adapter's getPending() gave (same-millisecond ties are not ordered).
              const modelReport = await model.replay(pending.map((t) => twin.get(t.txId) as string));
              equal(report.committed.length, modelReport.committed.length, 'replay commits as many transactions as on MemoryAdapter');
              equal(report.failed.length, modelReport.failed.length, 'replay fails as many (conflicting) transactions as on MemoryAdapter');
              equal(await dump(store, APP), await dump(oracle, APP), 'application data after replay');
              equal(await after.getPending(), [], 'nothing is pending after replay');
              const last = await store.lastSyncId();
              const again = await after.replay(pending);
              equal(again.committed, [], 'replaying again commits nothing');
              equal(await store.lastSyncId(), last, 'replaying again writes nothing');
              for (const tx of pending) {
                const status = (await after.getTx(tx.txId))?.status;
                ok(status === TxStatus.Committed || status === TxStatus.Failed, `a replayed transaction ends committed or failed, got ${String(status)}`);
              }
            }),
          ),
          { scale: 0.5 },
        ),
    },
    {
      name: 'a committed transaction applies every op and marks the journal in one commit',
      run: (scope) =>
        scope.child(async (s) => {
          const store = await s.store(s.storeName('tx-one'));
          const txs = new TxCache(store);
          const txId = await txs.beginTx();
          await txs.recordOp(txId, OpType.Insert, 'a', { id: 'one', v: 1 });
          await txs.recordOp(txId, OpType.Insert, 'b', { id: 'two', v: 2 });
          await txs.recordOp(txId, OpType.Upsert, 'a', { id: 'three', v: 3 });
          const before = await store.lastSyncId();
          equal(await store.get('a', 'one'), undefined, 'recorded ops are not applied before commit');
          await txs.commit(txId);
          const after = await store.lastSyncId();
          ok(after >= before + 3, 'the commit took one id per op (and the journal its own)');
          const docs = [await store.get('a', 'one'), await store.get('b', 'two'), await store.get('a', 'three')];
          ok(docs.every((d) => d !== undefined), 'every op was applied');
          equal(docs.map((d) => d?._sync_id), [before + 1, before + 2, before + 3], 'the ops took consecutive ids: one commit');
          equal((await txs.getTx(txId))?.status, TxStatus.Committed, 'the journal says committed');
          equal((await txs.getTx(txId))?.commitSyncId, after, 'the journal knows the id of its commit');
        }),
    },
  ],
};
