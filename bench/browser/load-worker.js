// L1's worker: the initial load runs here, off the page's main thread, as the dashboard's sync
// worker does. lib/browser-suite.js bundles it; browser/load.js starts it from a Blob URL.
//   { t: 'raw', name, docs }: the raw baseline, a batched ingest of the same documents with idb
//     (baselines/indexeddb.js: transactions of 1000 documents one after another), timed from the
//     first transaction to the last commit; the documents are built before the clock starts.
//   { t: 'cse', name, url, docs }: FrontendSync on an IndexedDbAdapter replica following the
//     Edge at `url` over a WebSocket, timed from start() (opening the database included) until
//     the replica is live with every document applied.
// Each answers { t: 'done', seconds, commits?, commitSeconds? } (or { t: 'error', error }); the database is deleted after.
import { deleteDB } from 'idb';
import { Registry, openStore } from '@cse/core';
import { IndexedDbAdapter } from '@cse/adapter-indexeddb';
import { FrontendSync, webSocketConnector } from '@cse/sync';
import { indexedDbBaseline } from '../baselines/indexeddb.js';
import { COLLECTION, WORKER_TYPE, batch } from '../lib/docs.js';

const BATCH = 1000;

async function raw({ name, docs }) {
  const chunks = [];
  for (let i = 0; i < docs; i += BATCH) chunks.push(batch('doc-', i, Math.min(BATCH, docs - i)));
  const target = await indexedDbBaseline({ name });
  try {
    const t0 = performance.now();
    for (const chunk of chunks) await target.insertBatch(chunk);
    return { seconds: (performance.now() - t0) / 1000 };
  } finally {
    await target.close();
    await deleteDB(name);
  }
}

async function cse({ name, url, docs }) {
  const registry = new Registry();
  registry.registerWorkerType(WORKER_TYPE, 'v1');
  const t0 = performance.now();
  const adapter = new IndexedDbAdapter({ name });
  // Where the time goes: how long the adapter's commits took (from call to resolve), and how many.
  const commits = { n: 0, ms: 0 };
  const commit = adapter.commit.bind(adapter);
  adapter.commit = async (request) => {
    const c0 = performance.now();
    try {
      return await commit(request);
    } finally {
      commits.n++;
      commits.ms += performance.now() - c0;
    }
  };
  const store = openStore(adapter);
  const fe = new FrontendSync({ store, registry, connect: webSocketConnector(url), subscription: { collections: [COLLECTION] } });
  let lastPost = 0;
  const caughtUp = new Promise((resolve) => {
    const off = fe.onStatus((status, progress) => {
      // What a UI shows: progress, at most every 100 ms.
      const now = performance.now();
      if (now - lastPost > 100) {
        lastPost = now;
        globalThis.postMessage({ t: 'progress', applied: progress.applied, head: progress.head });
      }
      if (status === 'live' && progress.applied >= docs) {
        off();
        resolve();
      }
    });
  });
  try {
    await fe.start();
    await caughtUp;
    return { seconds: (performance.now() - t0) / 1000, commits: commits.n, commitSeconds: commits.ms / 1000 };
  } finally {
    await fe.stop();
    await store.close();
    await deleteDB(name);
  }
}

globalThis.onmessage = async (ev) => {
  const m = ev.data;
  try {
    globalThis.postMessage({ t: 'done', ...(m.t === 'raw' ? await raw(m) : await cse(m)) });
  } catch (e) {
    globalThis.postMessage({ t: 'error', error: String(e?.stack ?? e) });
  }
};
