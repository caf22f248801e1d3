// Raw idb, as a user would write it by hand: one object store keyed by [collection, id] with a
// unique sync-id index, a counter record, every write one readwrite transaction. In Node this
// runs on fake-indexeddb, like the adapter.
import { openDB } from 'idb';
import { COLLECTION } from '../lib/docs.js';

export async function indexedDbBaseline({ name }) {
  const db = await openDB(name, 1, {
    upgrade(d) {
      const docs = d.createObjectStore('docs', { keyPath: ['collection', 'id'] });
      docs.createIndex('bySyncId', 'syncId', { unique: true });
      d.createObjectStore('meta');
    },
  });
  const insertMany = async (bodies) => {
    const now = new Date().toISOString();
    const tx = db.transaction(['docs', 'meta'], 'readwrite');
    const docs = tx.objectStore('docs');
    const meta = tx.objectStore('meta');
    let syncId = (await meta.get('last')) ?? 0;
    const writes = bodies.map((body) => {
      syncId++;
      const doc = { ...body, _sync_id: syncId, _version: 1, _created_at: now, _updated_at: now };
      // add() refuses an existing key: the absence check.
      return docs.add({ collection: COLLECTION, id: body.id, syncId, version: 1, doc });
    });
    await Promise.all([...writes, meta.put(syncId, 'last'), tx.done]);
  };

  return {
    side: 'raw',
    async saveNew(id, body) {
      await insertMany([{ ...body, id }]);
      return 1;
    },
    async update(id, body, expected) {
      const tx = db.transaction(['docs', 'meta'], 'readwrite');
      const docs = tx.objectStore('docs');
      const meta = tx.objectStore('meta');
      const [old, last] = await Promise.all([docs.get([COLLECTION, id]), meta.get('last')]);
      if (old === undefined || old.version !== expected) {
        tx.abort();
        await tx.done.catch(() => undefined);
        throw new Error(`conflict on ${id}`);
      }
      const syncId = last + 1;
      const doc = { ...body, id, _sync_id: syncId, _version: expected + 1, _created_at: old.doc._created_at, _updated_at: new Date().toISOString() };
      await Promise.all([docs.put({ collection: COLLECTION, id, syncId, version: expected + 1, doc }), meta.put(syncId, 'last'), tx.done]);
      return doc._version;
    },
    insertBatch: insertMany,
    async changes(after, limit) {
      const rows = await db.getAllFromIndex('docs', 'bySyncId', globalThis.IDBKeyRange.lowerBound(after, true), limit);
      const tail = rows[rows.length - 1];
      return { cursor: tail ? tail.syncId : after, count: rows.length, hasMore: rows.length === limit };
    },
    async seed(docs) {
      for (let i = 0; i < docs.length; i += 1000) await insertMany(docs.slice(i, i + 1000));
    },
    async lastSyncId() {
      return (await db.get('meta', 'last')) ?? 0;
    },
    async close() {
      db.close();
    },
  };
}
