// The CSE side of every comparison: the public API a user calls, on whichever adapter.
//
// A target (this one, and each raw baseline in ../baselines) offers the same operations, so
// one workload definition drives both:
//   saveNew(id, body)                   one new document, its own commit           (W1, W6)
//   update(id, body, expectedVersion)   replace, only if the stored version matches (W2)
//   insertBatch(docs)                   all documents in one commit (insertMany)     (W3)
//   changes(after, limit)               one delta page: { cursor, count, hasMore }  (W4, W5)
//   seed(docs)                          untimed bulk load, 1000 per commit
//   lastSyncId(), close()
import { Registry, TriangularStore, openStore } from '@cse/core';
import { COLLECTION, WORKER_TYPE } from './docs.js';

const SEED_CHUNK = 1000;

export function cseTarget(adapter) {
  const store = openStore(adapter);
  const registry = new Registry();
  registry.registerWorkerType(WORKER_TYPE, 'v1');
  const workers = new TriangularStore(store, registry);
  return {
    side: 'cse',
    async saveNew(id, body) {
      return (await workers.saveObserved(WORKER_TYPE, id, body)).doc._version;
    },
    async update(id, body, expectedVersion) {
      return (await store.update(COLLECTION, { ...body, id }, { expectedVersion }))._version;
    },
    // The fastest public way to write a batch of new documents: one insertMany, one commit.
    async insertBatch(docs) {
      await store.insertMany(COLLECTION, docs);
    },
    async changes(after, limit) {
      const page = await store.changesSince(after, { limit });
      return { cursor: page.cursor, count: page.changes.length, hasMore: page.hasMore };
    },
    // Seeding is not measured: straight to the adapter's commit, 1000 documents at a time.
    async seed(docs) {
      for (let i = 0; i < docs.length; i += SEED_CHUNK) {
        const writes = docs.slice(i, i + SEED_CHUNK).map((body) => ({ collection: COLLECTION, id: body.id, kind: 'put', body }));
        const result = await adapter.commit({ writes, now: new Date().toISOString() });
        if (!result.ok) throw new Error('seeding failed');
      }
    },
    lastSyncId: () => store.lastSyncId(),
    close: () => store.close(),
  };
}
