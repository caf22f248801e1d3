// The Edge of L1 (initial load into IndexedDB in Chromium), in its own Node process: a SQLite
// store (synchronous=FULL, the Edge default) seeded with `docs` documents, served by `EdgeSync`
// on a loopback WebSocket. It also reports its own `changesSince` read rate over the same
// documents (pages of 200, as S1 measures it), the rate the Node replica goal is stated against.
//
// As a child (forked with its config JSON in argv[2]): seeds, serves, sends { url, readPerSec }.
// As a module: `startLoadEdge(config)` forks it and resolves once it serves.
import { fork } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { COLLECTION, WORKER_TYPE, batch } from './docs.js';

const self = fileURLToPath(import.meta.url);
const SEED_CHUNK = 1000;

/** Forks the Edge ({ path, docs, pageSize? }) and waits until it serves: { url, readPerSec, pid, stop() }. */
export async function startLoadEdge(config) {
  const child = fork(self, [JSON.stringify(config)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ready = await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`the L1 Edge process exited (${code})`)));
  });
  return {
    ...ready,
    pid: child.pid,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

async function main({ path, docs, pageSize }) {
  const [{ Registry, TriangularStore, openStore }, { SqliteAdapter }, { EdgeSync }, { serveEdge }] = await Promise.all([
    import('@cse/core'),
    import('@cse/adapter-sqlite'),
    import('@cse/sync'),
    import('@cse/sync/node'),
  ]);
  const adapter = new SqliteAdapter({ path, synchronous: 'FULL' });
  const store = openStore(adapter);
  const registry = new Registry();
  registry.registerWorkerType(WORKER_TYPE, 'v1');
  // Untimed seeding straight to the adapter's commit, as S1 does.
  for (let i = 0; i < docs; i += SEED_CHUNK) {
    const writes = batch('doc-', i, Math.min(SEED_CHUNK, docs - i)).map((body) => ({ collection: COLLECTION, id: body.id, kind: 'put', body }));
    const result = await adapter.commit({ writes, now: new Date().toISOString() });
    if (!result.ok) throw new Error('seeding failed');
  }
  const t0 = performance.now();
  let n = 0;
  for (let cursor = 0; ; ) {
    const page = await store.changesSince(cursor, { collections: [COLLECTION], limit: 200 });
    n += page.changes.length;
    cursor = page.cursor;
    if (!page.hasMore) break;
  }
  const readPerSec = n / ((performance.now() - t0) / 1000);
  const sync = new EdgeSync({ store, registry, triangular: new TriangularStore(store, registry), ...(pageSize ? { pageSize } : {}) });
  const server = await serveEdge(sync);
  process.send({ url: server.url, readPerSec });
  process.once('SIGTERM', () => {
    void (async () => {
      await sync.close();
      await server.close();
      await store.close();
      process.exit(0);
    })();
  });
}

if (process.argv[1] === self && process.send !== undefined) await main(JSON.parse(process.argv[2]));
