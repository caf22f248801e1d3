/**
 * Crash safety (guarantees 1, 4, 5 and TxCache replay under SIGKILL): a child process opens the
 * store, alternates multi-document commits and TxCache transactions, printing an ack for each,
 * and is killed at a random moment, most often inside a commit (it announces each one). The parent reopens the store and checks: every commit and
 * every transaction whole or absent; every acknowledged write there; the counter at or above
 * every stored id and the next id above them all; `replay(getPending())` finishing every pending
 * transaction exactly once (a second replay changes nothing). Several rounds hit one store.
 */
import type { CachedTx, Store } from '@cse/core';
import { TX_COLLECTION, TxCache, TxStatus } from '@cse/core';
import fc from 'fast-check';
import { equal, ok, show } from '../assert.js';
import type { Scope } from '../context.js';
import type { ChildMessage } from '../child/protocol.js';
import { DOCS_PER_COMMIT } from '../child/protocol.js';
import type { Group } from '../group.js';
import { all, needs, needsChildren } from '../group.js';
import { checkProperty } from '../property.js';
import { withChildTimeout } from '../child/spawn.js';


function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const isAck = (m: ChildMessage): boolean => m.t === 'commit' || m.t === 'tx-recorded' || m.t === 'tx-committed';

/**
 * When a child is killed: after `acks` acknowledgements, then either at the start of the next
 * plain commit plus `frac` of the time the previous commit took (so the kill lands inside a
 * commit), or `delayMs` later wherever the child is (inside a TxCache step as often as not).
 */
interface KillPlan {
  readonly acks: number;
  readonly inCommit: boolean;
  readonly frac: number;
  readonly delayMs: number;
}

/** Waits about `ms` (fractions included): a timer for the whole milliseconds, then spinning. */
async function pause(ms: number): Promise<void> {
  if (ms >= 1) await sleep(Math.floor(ms));
  const until = performance.now() + (ms % 1);
  while (performance.now() < until) {
    // spin: timers are no finer than a millisecond
  }
}

/** One child, killed as `plan` says. Returns what it acknowledged. */
async function killedChild(s: Scope, storeName: string, tag: string, plan: KillPlan): Promise<ChildMessage[]> {
  const { spawnChild } = await import('../child/spawn.js');
  const child = await spawnChild({ mode: 'crash', module: s.run.options.module as string, storeName, dir: await s.run.dir(), tag });
  try {
    await withChildTimeout(
      child.until((ms) => ms.filter(isAck).length >= plan.acks && ms.some((m) => m.t === 'ready'), `${plan.acks} acknowledgements`),
      `the crash child to acknowledge ${plan.acks} writes`,
    );
    if (plan.inCommit) {
      const seen = child.messages.length;
      await withChildTimeout(
        child.until((ms) => ms.slice(seen).some((m) => m.t === 'commit-begin'), 'the next commit to begin'),
        'the crash child to begin a commit',
      );
      const begin = child.messages.slice(seen).find((m) => m.t === 'commit-begin');
      await pause(plan.frac * (begin?.t === 'commit-begin' && begin.lastMs > 0 ? begin.lastMs : 2));
    } else if (plan.delayMs > 0) {
      await sleep(plan.delayMs);
    }
  } finally {
    child.kill();
  }
  const { signal, code } = await child.exited;
  if (signal !== 'SIGKILL') throw new Error(`the crash child exited by itself (code ${String(code)}) instead of being killed:\n${child.stderr()}`);
  return [...child.messages];
}

interface Round {
  readonly tag: string;
  readonly messages: readonly ChildMessage[];
}

async function journals(store: Store, tag: string): Promise<CachedTx[]> {
  const txs = new TxCache(store);
  const records = await store.adapter.scanCollection(TX_COLLECTION);
  const out: CachedTx[] = [];
  for (const r of records) {
    if (r.deleted || (r.doc.metadata as { tag?: unknown } | undefined)?.tag !== tag) continue;
    const tx = await txs.getTx(r.id);
    if (tx) out.push(tx);
  }
  return out;
}

/** Checks the store after the latest kill, for every round so far. */
async function checkAfterCrash(s: Scope, storeName: string, rounds: readonly Round[]): Promise<void> {
  const store = await s.store(storeName);
  const everything = await store.adapter.changes(0, { limit: 1_000_000 });
  const maxStored = Math.max(0, ...everything.map((r) => r.syncId));
  const last = await store.lastSyncId();
  ok(last >= maxStored, `after the kill, lastSyncId ${last} is below a stored _sync_id ${maxStored}`);
  ok(new Set(everything.map((r) => r.syncId)).size === everything.length, 'after the kill, two records share a _sync_id');
  const crashDocs = await store.find('crash');
  const txDocs = await store.find('txdocs');

  for (const { tag, messages } of rounds) {
    const where = `round ${tag}`;
    // Plain commits: whole or absent, and every acknowledged one present.
    const perCommit = new Map<number, number>();
    for (const d of crashDocs) if (d.tag === tag && d.id !== `${tag}-last`) perCommit.set(d.commit as number, (perCommit.get(d.commit as number) ?? 0) + 1);
    for (const [n, count] of perCommit) equal(count, DOCS_PER_COMMIT, `${where}: commit ${n} is torn (atomicity)`);
    for (const m of messages) {
      if (m.t !== 'commit') continue;
      ok(perCommit.has(m.n), `${where}: the acknowledged commit ${m.n} is gone (durability)`);
      for (const id of m.ids) ok(id <= last, `${where}: acknowledged _sync_id ${id} is above lastSyncId ${last}`);
    }
    const lastDoc = crashDocs.find((d) => d.id === `${tag}-last`);
    const newest = Math.max(-1, ...perCommit.keys());
    equal(lastDoc?.commit ?? -1, newest, `${where}: the shared document names the newest stored commit`);

    // TxCache: a transaction's ops are applied exactly when its journal says committed.
    const txs = await journals(store, tag);
    for (const tx of txs) {
      const n = tx.metadata.n as number;
      const applied = txDocs.filter((d) => d.tag === tag && d.tx === n).length;
      if (tx.status === TxStatus.Committed) equal(applied, tx.ops.length, `${where}: committed transaction ${n} applied ${applied} of ${tx.ops.length} ops`);
      else equal(applied, 0, `${where}: transaction ${n} is ${tx.status} but ${applied} of its ops were applied`);
    }
    const byId = new Map(txs.map((t) => [t.txId, t]));
    for (const m of messages) {
      if (m.t === 'tx-begun') ok(byId.has(m.txId), `${where}: the acknowledged transaction ${m.n} has no journal (durability)`);
      if (m.t === 'tx-recorded') equal(byId.get(m.txId)?.ops.length, m.ops, `${where}: transaction ${m.n} lost recorded ops`);
      if (m.t === 'tx-committed') equal(byId.get(m.txId)?.status, TxStatus.Committed, `${where}: the acknowledged commit of transaction ${m.n}`);
    }
  }

  // Replay finishes every pending transaction exactly once.
  const cache = new TxCache(store);
  const pending = await cache.getPending();
  const report = await cache.replay(pending);
  equal(report.failed.map((f) => f.error.message), [], 'replaying the pending transactions of the crash child fails none (their ops do not conflict)');
  equal(await cache.getPending(), [], 'nothing is pending after replay');
  const replayedDocs = await store.find('txdocs');
  for (const { tag } of rounds) {
    for (const tx of await journals(store, tag)) {
      const n = tx.metadata.n as number;
      const docs = replayedDocs.filter((d) => d.tag === tag && d.tx === n);
      equal(docs.length, tx.ops.length, `round ${tag}: after replay, transaction ${n} has all its ops applied`);
      ok(
        docs.every((d) => d._version === 1),
        `round ${tag}: after replay, an op of transaction ${n} was applied twice: ${show(docs.map((d) => d._version))}`,
      );
    }
  }
  const afterReplay = await store.lastSyncId();
  equal((await cache.replay(pending)).committed, [], 'a second replay commits nothing');
  equal(await store.lastSyncId(), afterReplay, 'a second replay writes nothing');
  const probe = await store.upsert('probe', { id: 'next', after: afterReplay });
  ok(probe._sync_id > Math.max(maxStored, afterReplay), `the first write after the crash got _sync_id ${probe._sync_id}, not above every stored id`);
  await s.closeOne(store);
}

const roundArb: fc.Arbitrary<KillPlan> = fc.record({
  acks: fc.integer({ min: 0, max: 10 }),
  inCommit: fc.constantFrom(true, true, true, false),
  frac: fc.double({ min: 0, max: 1, noNaN: true }),
  delayMs: fc.integer({ min: 0, max: 4 }),
});

/** Kills per run of the property (each round one child, one kill, one check). */
const ROUNDS = 3;

export const crashGroupDef: Group = {
  id: 'crash',
  title: 'Crash safety (SIGKILL)',
  requires: all(needs('persistent'), needs('crashSafe'), needsChildren),
  checks: [
    {
      name: 'a writer killed at a random moment leaves whole commits, keeps every ack, and replay finishes its transactions once',
      timeout: 240_000,
      run: (scope) =>
        checkProperty(
          scope,
          'crash: SIGKILL at a random moment',
          fc.asyncProperty(fc.array(roundArb, { minLength: ROUNDS, maxLength: ROUNDS }), (plan) =>
            scope.child(async (s) => {
              const name = s.storeName('crash');
              const rounds: Round[] = [];
              for (const [i, kill] of plan.entries()) {
                const tag = `r${i}`;
                rounds.push({ tag, messages: await killedChild(s, name, tag, kill) });
                await checkAfterCrash(s, name, rounds);
              }
            }),
          ),
          // 5 runs of 3 kills at the default 25 runs: 15 kills, most inside a commit.
          // No shrinking: a kill's timing does not replay, so a smaller plan proves nothing more.
          { scale: 0.2, runTimeoutMs: 120_000, budgetMs: 200_000, params: { endOnFailure: true } },
        ),
    },
  ],
};
