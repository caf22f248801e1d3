// Raw classic-level, as a user would write it by hand: the document under its key, a sync-id
// index entry, the counter; each write one batch with the same `sync` as the adapter (true: fsync
// per batch). A promise chain keeps one read-plan-batch at a time, as any correct in-process
// counter needs.
import { ClassicLevel } from 'classic-level';
import { COLLECTION } from '../lib/docs.js';

const COUNTER = 'm!last';
const docKey = (id) => `d!${COLLECTION}!${id}`;
const syncKey = (n) => `s!${String(n).padStart(16, '0')}`;

export async function levelBaseline({ location, sync = true }) {
  const db = new ClassicLevel(location, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
  await db.open();
  const opts = { sync };
  let queue = Promise.resolve();
  const serial = (fn) => {
    const run = queue.then(fn);
    queue = run.catch(() => undefined);
    return run;
  };
  const counter = async () => Number((await db.get(COUNTER)) ?? 0);

  const insertMany = (docs) =>
    serial(async () => {
      const keys = docs.map((d) => docKey(d.id));
      const [prevs, last] = await Promise.all([db.getMany(keys), counter()]);
      const now = new Date().toISOString();
      const ops = [];
      let syncId = last;
      docs.forEach((body, i) => {
        if (prevs[i] !== undefined) throw new Error(`${body.id} exists`);
        syncId++;
        const doc = { ...body, _sync_id: syncId, _version: 1, _created_at: now, _updated_at: now };
        ops.push({ type: 'put', key: keys[i], value: JSON.stringify(doc) });
        ops.push({ type: 'put', key: syncKey(syncId), value: keys[i] });
      });
      ops.push({ type: 'put', key: COUNTER, value: String(syncId) });
      await db.batch(ops, opts);
    });

  return {
    side: 'raw',
    durability: `batch({ sync: ${sync} })`,
    async saveNew(id, body) {
      await insertMany([{ ...body, id }]);
      return 1;
    },
    update: (id, body, expected) =>
      serial(async () => {
        const [prev, last] = await Promise.all([db.get(docKey(id)), counter()]);
        const old = prev === undefined ? undefined : JSON.parse(prev);
        if (old === undefined || old._version !== expected) throw new Error(`conflict on ${id}`);
        const syncId = last + 1;
        const doc = { ...body, id, _sync_id: syncId, _version: expected + 1, _created_at: old._created_at, _updated_at: new Date().toISOString() };
        await db.batch(
          [
            { type: 'del', key: syncKey(old._sync_id) },
            { type: 'put', key: docKey(id), value: JSON.stringify(doc) },
            { type: 'put', key: syncKey(syncId), value: docKey(id) },
            { type: 'put', key: COUNTER, value: String(syncId) },
          ],
          opts,
        );
        return doc._version;
      }),
    insertBatch: (docs) => insertMany(docs),
    async changes(after, limit) {
      const snapshot = db.snapshot();
      try {
        const entries = await db.iterator({ gt: syncKey(after), lt: 's"', limit, snapshot }).all();
        const values = await db.getMany(entries.map(([, key]) => key), { snapshot });
        const docs = values.map((v) => JSON.parse(v));
        const tail = docs[docs.length - 1];
        return { cursor: tail ? tail._sync_id : after, count: docs.length, hasMore: docs.length === limit };
      } finally {
        await snapshot.close();
      }
    },
    async seed(docs) {
      for (let i = 0; i < docs.length; i += 1000) await insertMany(docs.slice(i, i + 1000));
    },
    lastSyncId: counter,
    async close() {
      await db.close();
    },
  };
}
