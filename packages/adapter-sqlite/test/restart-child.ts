// One "run" of an Edge process for restart.test.ts: opens the SQLite store, does what the
// phase says, and exits without closing anything (as a process that is stopped would).
import { OpType, Registry, SyncState, Tier, TxCache, openStore } from '@cse/core';
import { SqliteAdapter } from '@cse/adapter-sqlite';

const [path, phase] = process.argv.slice(2) as [string, string];
const store = openStore(new SqliteAdapter({ path }));
const registry = new Registry();
registry.registerWorkerType('container');
const sync = new SyncState(store, registry);

if (phase === 'first') {
  for (let i = 0; i < 5; i++) await store.insert('container_observed', { id: `w${i}`, i });
  const cache = new TxCache(store);
  const tx = await cache.beginTx({ saga: 'deploy' });
  await cache.recordOp(tx, OpType.Insert, 'deployments', { id: 'd1' });
  await cache.recordOp(tx, OpType.Update, 'container_observed', { id: 'w0', i: 100 });
  await sync.markSynced(Tier.Edge, 4);
  process.stdout.write(JSON.stringify({ tx, last: await store.lastSyncId() }) + '\n');
} else {
  await sync.markSynced(Tier.Edge, 2); // an older acknowledgement arriving late
  process.stdout.write(JSON.stringify({ state: await sync.getState(Tier.Edge) }) + '\n');
}
process.exit(0);
