// P1's client side, shared by Node (peers/node-client.js) and Chromium (peers/browser-worker.js):
// the same calls for each system, the storage and connector handed in by the environment.
//
// `env`: { PouchDB, pouchOptions (the local db's options), rxStorage, createRxDatabase,
//   replicateWithWebsocketServer, cseStore(name) -> store, cseDrop(name), cseConnect(url),
//   Registry, FrontendSync }
//
// Every operation is timed from opening the replica's database (so opening is included, as L1
// does) until the documents are there, and the database is removed afterwards.
import { COLLECTION, WORKER_TYPE } from '../lib/docs.js';
import { rxCollections } from './rx-schema.js';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const now = () => performance.timeOrigin + performance.now();

/** Each peer's replication settings: what its docs recommend for speed with small documents (see bench/README.md). */
export const SETTINGS = {
  // PouchDB's replicate() docs: batch_size (default 100) "If your documents are small in size,
  // then increasing this number will probably speed replication up"; batches_limit left at 10.
  pouchdb: { batch_size: 1000, batches_limit: 10 },
  // RxDB's replication batchSize (default 100) raised the same way; multiInstance off (one tab,
  // no BroadcastChannel), as RxDB's performance notes advise when only one instance runs.
  rxdb: { batchSize: 1000, multiInstance: false },
  // CSE: its defaults (Edge pages of 1000, permessage-deflate on).
  cse: {},
};

function untilStatus(fe, pred) {
  return new Promise((resolve) => {
    if (pred(fe.status, fe.progress)) return resolve();
    const off = fe.onStatus((status, progress) => {
      if (pred(status, progress)) {
        off();
        resolve();
      }
    });
  });
}

function registry(env) {
  const r = new env.Registry();
  r.registerWorkerType(WORKER_TYPE, 'v1');
  return r;
}

async function rxOpen(env, name) {
  const db = await env.createRxDatabase({ name, storage: env.rxStorage, multiInstance: SETTINGS.rxdb.multiInstance });
  await db.addCollections(rxCollections());
  return { db, collection: db[COLLECTION] };
}

async function rxReplicate(env, collection, url) {
  return env.replicateWithWebsocketServer({ collection, url, replicationIdentifier: 'p1', batchSize: SETTINGS.rxdb.batchSize, live: true });
}

/** Remote PouchDB at `url`; `gzip: false` asks for identity encoding (node-fetch asks for gzip otherwise). */
function pouchRemote(env, url, gzip = true) {
  if (gzip) return new env.PouchDB(url);
  return new env.PouchDB(url, {
    fetch: (u, opts) => {
      opts.headers.set('accept-encoding', 'identity');
      return env.PouchDB.fetch(u, opts);
    },
  });
}

/**
 * A CSE Frontend on a new replica `name`, started and followed until `ready(status, progress)`:
 * { store, fe, close() } (close stops it and drops the replica).
 */
async function cseFrontend(env, { name, url, subscription, ready }) {
  const store = await env.cseStore(name);
  const fe = new env.FrontendSync({ store, registry: registry(env), connect: env.cseConnect(url), subscription });
  const close = async () => {
    await fe.stop();
    await store.close();
    await env.cseDrop(name);
  };
  try {
    const live = untilStatus(fe, ready);
    await fe.start();
    await live;
  } catch (e) {
    await close();
    throw e;
  }
  return { store, fe, close };
}

/** Initial load of `docs` documents from the server at `url` into an empty replica `name`: { seconds }. */
export async function load(env, { system, url, docs, name, gzip }) {
  const t0 = performance.now();
  if (system === 'cse') {
    const cse = await cseFrontend(env, { name, url, subscription: { collections: [COLLECTION] }, ready: (status, progress) => status === 'live' && progress.applied >= docs });
    const seconds = (performance.now() - t0) / 1000;
    await cse.close();
    return { seconds };
  }
  if (system === 'pouchdb') {
    const local = new env.PouchDB(name, env.pouchOptions);
    try {
      const info = await local.replicate.from(pouchRemote(env, url, gzip), { ...SETTINGS.pouchdb });
      const seconds = (performance.now() - t0) / 1000;
      if (info.docs_written !== docs) throw new Error(`PouchDB wrote ${info.docs_written} of ${docs}`);
      return { seconds };
    } finally {
      await local.destroy();
    }
  }
  const { db, collection } = await rxOpen(env, name);
  try {
    const rs = await rxReplicate(env, collection, url);
    await rs.awaitInitialReplication();
    const seconds = (performance.now() - t0) / 1000;
    const n = await collection.count().exec();
    await rs.cancel();
    if (n !== docs) throw new Error(`RxDB has ${n} of ${docs}`);
    return { seconds };
  } finally {
    await db.remove();
  }
}

/**
 * Follows the (empty) server at `url` live and records when each `lat-*` document shows in the
 * replica (its change feed / watch). Resolves once following: { arrivals: Map id -> time, stop() }.
 */
export async function follow(env, { system, url, name }) {
  const arrivals = new Map();
  if (system === 'cse') {
    const { store, close } = await cseFrontend(env, { name, url, subscription: { collections: [COLLECTION] }, ready: (status) => status === 'live' });
    const abort = new AbortController();
    const watching = (async () => {
      for await (const page of store.watch(await store.lastSyncId(), { collections: [COLLECTION], signal: abort.signal })) {
        const t = now();
        for (const c of page.changes) if (!c.deleted && c.id.startsWith('lat-')) arrivals.set(c.id, t);
      }
    })();
    return {
      arrivals,
      async stop() {
        abort.abort();
        await watching.catch(() => undefined);
        await close();
      },
    };
  }
  if (system === 'pouchdb') {
    const local = new env.PouchDB(name, env.pouchOptions);
    const rep = local.replicate.from(pouchRemote(env, url), { live: true, retry: true, ...SETTINGS.pouchdb });
    await new Promise((resolve, reject) => {
      rep.once('paused', resolve);
      rep.once('error', reject);
    });
    const changes = local.changes({ since: 'now', live: true }).on('change', (c) => {
      if (c.id.startsWith('lat-')) arrivals.set(c.id, now());
    });
    return {
      arrivals,
      async stop() {
        changes.cancel();
        rep.cancel();
        await local.destroy();
      },
    };
  }
  const { db, collection } = await rxOpen(env, name);
  const rs = await rxReplicate(env, collection, url);
  await rs.awaitInitialReplication();
  const sub = collection.$.subscribe((ev) => {
    if (ev.documentId.startsWith('lat-')) arrivals.set(ev.documentId, now());
  });
  return {
    arrivals,
    async stop() {
      sub.unsubscribe();
      await rs.cancel();
      await db.remove();
    },
  };
}

/** `writes` documents written at once on a replica `name` until the server has acknowledged them all: { seconds }. */
export async function upload(env, { system, url, name, writes }) {
  if (system === 'cse') {
    // As S2: Desired writes saved together on a Frontend, until none is pending.
    const { fe, close } = await cseFrontend(env, { name, url, subscription: { workerTypes: [WORKER_TYPE] }, ready: (status) => status === 'live' });
    try {
      const t0 = performance.now();
      await Promise.all(Array.from({ length: writes }, (_, i) => fe.saveDesired(WORKER_TYPE, `u-${name}-${i}`, { target: i })));
      while (fe.pending > 0) await sleep(1);
      return { seconds: (performance.now() - t0) / 1000 };
    } finally {
      await close();
    }
  }
  if (system === 'pouchdb') {
    const local = new env.PouchDB(name, env.pouchOptions);
    const rep = local.replicate.to(pouchRemote(env, url), { live: true, retry: true, ...SETTINGS.pouchdb });
    try {
      await new Promise((resolve, reject) => {
        rep.once('paused', resolve);
        rep.once('error', reject);
      });
      let written = 0;
      rep.on('change', (info) => (written = info.docs_written));
      const t0 = performance.now();
      await Promise.all(Array.from({ length: writes }, (_, i) => local.put({ _id: `u-${name}-${i}`, target: i })));
      while (written < writes) await sleep(1);
      return { seconds: (performance.now() - t0) / 1000 };
    } finally {
      rep.cancel();
      await local.destroy();
    }
  }
  const { db, collection } = await rxOpen(env, name);
  try {
    const rs = await rxReplicate(env, collection, url);
    await rs.awaitInitialReplication();
    const t0 = performance.now();
    await Promise.all(Array.from({ length: writes }, (_, i) => collection.insert({ id: `u-${name}-${i}`, target: i })));
    await rs.awaitInSync();
    const seconds = (performance.now() - t0) / 1000;
    await rs.cancel();
    return { seconds };
  } finally {
    await db.remove();
  }
}
