// A hand-written in-memory store: a Map of documents, a counter and an append-only log of
// (syncId, key) for delta reads (binary search to the cursor). It builds a new document object on
// every write (never keeps the caller's object) but hands out its own objects on reads without
// copying, as hand-written code usually does; MemoryAdapter copies on the way in and out.
import { COLLECTION } from '../lib/docs.js';

export function memoryBaseline() {
  const docs = new Map();
  const log = [];
  let last = 0;
  const insertMany = (bodies) => {
    const now = new Date().toISOString();
    for (const body of bodies) if (docs.has(`${COLLECTION}\u0000${body.id}`)) throw new Error(`${body.id} exists`);
    for (const body of bodies) {
      const key = `${COLLECTION}\u0000${body.id}`;
      const doc = { ...body, _sync_id: ++last, _version: 1, _created_at: now, _updated_at: now };
      docs.set(key, doc);
      log.push({ syncId: last, key });
    }
  };
  return {
    side: 'raw',
    async saveNew(id, body) {
      insertMany([{ ...body, id }]);
      return 1;
    },
    async update(id, body, expected) {
      const key = `${COLLECTION}\u0000${id}`;
      const old = docs.get(key);
      if (old === undefined || old._version !== expected) throw new Error(`conflict on ${id}`);
      const doc = { ...body, id, _sync_id: ++last, _version: expected + 1, _created_at: old._created_at, _updated_at: new Date().toISOString() };
      docs.set(key, doc);
      log.push({ syncId: last, key });
      return doc._version;
    },
    async insertBatch(bodies) {
      insertMany(bodies);
    },
    async changes(after, limit) {
      let lo = 0;
      let hi = log.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (log[mid].syncId <= after) lo = mid + 1;
        else hi = mid;
      }
      const out = [];
      for (let i = lo; i < log.length && out.length < limit; i++) {
        const doc = docs.get(log[i].key);
        if (doc._sync_id === log[i].syncId) out.push(doc);
      }
      const tail = out[out.length - 1];
      return { cursor: tail ? tail._sync_id : after, count: out.length, hasMore: out.length === limit };
    },
    async seed(bodies) {
      insertMany(bodies);
    },
    async lastSyncId() {
      return last;
    },
    async close() {},
  };
}
