// The Edge scenario on the embedded default (SQLite in a temporary folder): workers save their
// three documents, observed state changes, a Frontend cursor pulls the deltas, and a multi-step
// TxCache transaction is cut short by a "crash" and replayed after the restart.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OpType, Registry, SyncState, Tier, TriangularStore, TxCache, openStore } from '@cse/core';

const dir = mkdtempSync(join(tmpdir(), 'cse-demo-'));
const url = `sqlite:${join(dir, 'edge.db')}`;
const say = (line) => console.log(line);

function registry() {
  const r = new Registry();
  r.registerWorkerType('container', 'v1');
  r.registerFeature('delta_sync', true);
  return r;
}

try {
  say(`CSE demo: Edge store at ${url}`);
  let store = await openStore(url);
  const reg = registry();
  const workers = new TriangularStore(store, reg);
  const sync = new SyncState(store, reg);

  // 1. Three FSM workers save identity, desired and observed state.
  for (const id of ['pump-1', 'pump-2', 'valve-7']) {
    await workers.saveIdentity('container', id, { name: id, site: 'plant-a' });
    await workers.saveDesired('container', id, { state: 'running' });
    await workers.saveObserved('container', id, { state: 'starting', temp: 20 });
  }
  say(`1. 3 workers saved identity, desired and observed: last _sync_id ${await store.lastSyncId()}`);

  // 2. Observed state polled several times; unchanged polls write nothing.
  let written = 0;
  let skipped = 0;
  for (const temp of [21, 21, 22, 22, 22, 23]) {
    const r = await workers.saveObserved('container', 'pump-1', { state: 'running', temp });
    r.changed ? written++ : skipped++;
  }
  const pump = await workers.loadObserved('container', 'pump-1');
  say(`2. pump-1 observed polled 6 times: ${written} writes, ${skipped} unchanged (no sync id burned); now _version ${pump._version}, temp ${pump.temp}`);

  // 3. The Frontend pulls the deltas in pages with its cursor.
  let cursor = 0;
  let pages = 0;
  let changes = 0;
  for (;;) {
    const delta = await sync.getDeltaSince(Tier.Frontend, cursor, { limit: 4 });
    pages++;
    changes += delta.changes.length;
    cursor = delta.cursor;
    if (!delta.hasMore) break;
  }
  await sync.markSynced(Tier.Edge, cursor);
  say(`3. Frontend pulled ${changes} changes in ${pages} pages; cursor ${cursor} (every document once, in its latest state)`);

  // 4. A multi-step transaction is cut short: ops are journaled, then the process "crashes".
  const cache = new TxCache(store);
  const tx = await cache.beginTx({ saga: 'deploy-bridge', worker_id: 'valve-7' });
  await cache.recordOp(tx, OpType.Upsert, 'container_desired', { id: 'valve-7', state: 'stopped' });
  await cache.recordOp(tx, OpType.Insert, 'deployments', { id: 'bridge-1', target: 'valve-7' });
  await cache.recordOp(tx, OpType.Insert, 'deployments', { id: 'bridge-2', target: 'pump-2' });
  await store.close();
  say(`4. transaction ${tx.slice(0, 8)}… journaled 3 ops, then the Edge process stopped before commit (simulated: the store is closed)`);

  // 5. Restart: the pending transaction is read back from the store and replayed exactly once.
  store = await openStore(url);
  const cache2 = new TxCache(store);
  const pending = await cache2.getPending();
  const first = await cache2.replay(pending);
  const second = await cache2.replay(pending);
  const deployments = await store.find('deployments');
  const valve = await new TriangularStore(store, reg).loadDesired('container', 'valve-7');
  say(
    `5. after restart: ${pending.length} pending; replay committed ${first.committed.length}, replaying again skipped ${second.skipped.length}; ` +
      `${deployments.length} deployments, valve-7 desired '${valve.state}'`,
  );

  // 6. The deletion of a worker syncs as tombstones.
  const before = await store.lastSyncId();
  const deleted = await new TriangularStore(store, reg).deleteWorker('container', 'pump-2');
  const tail = await new SyncState(store, reg).getDeltaSince(Tier.Frontend, before);
  say(`6. deleteWorker(pump-2) wrote ${deleted} tombstones; the Frontend's next delta holds ${tail.changes.filter((c) => c.deleted).length} deletions`);
  await store.close();
  say('done.');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
