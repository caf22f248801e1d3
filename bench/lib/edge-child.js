// The Edge of the S1 and S2 latency runs, in its own process (better-sqlite3 commits block their
// event loop: a writer in the replica's process would delay the replica by its own fsyncs).
//
// As a child (forked with its config JSON in argv[2]): serves the SQLite store at `path` either
// directly on a loopback WebSocket (mode 'direct', reports its URL) or through the relay at
// `relayUrl` behind the encrypted channel (mode 'relay', reports a pairing code). On 'go' it
// commits single changes at `rate` per second for `seconds` and reports when each commit
// returned (performance.timeOrigin + performance.now(), comparable across processes).
//
// As a module: `startEdgeChild(config)` forks it, and `follow(store)` measures commit-to-replica
// latency on the replica store the caller keeps in sync with it.
import { fork } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { COLLECTION, WORKER_TYPE, observed } from './docs.js';

const self = fileURLToPath(import.meta.url);
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Forks the Edge with `config` ({ path, rate, seconds, mode: 'direct' | 'relay', relayUrl? })
 * and waits until it serves. `ready` holds its `url` (direct) or pairing `code` (relay).
 */
export async function startEdgeChild(config) {
  const child = fork(self, [JSON.stringify({ mode: 'direct', ...config })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const committed = new Map();
  let done;
  const finished = new Promise((resolve) => {
    child.on('message', (m) => {
      if (m.t === 'committed') for (const [id, at] of m.batch) committed.set(id, at);
      if (m.t === 'done') {
        done = m;
        resolve();
      }
    });
  });
  const ready = await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`the Edge process exited (${code})`)));
  });
  return {
    ready,
    /**
     * Watches `store` (a replica already live), starts the commits, waits for them (and up to
     * 10 s for the replica to see them all) and returns the Edge's report, how many the replica
     * saw and the commit-to-replica latencies in ms, sorted.
     */
    async follow(store) {
      const seen = new Map();
      const abort = new AbortController();
      const watching = (async () => {
        for await (const page of store.watch(await store.lastSyncId(), { collections: [COLLECTION], signal: abort.signal })) {
          const t = now();
          for (const c of page.changes) if (!c.deleted && c.doc.uptimeSec === -1) seen.set(c.id, t);
        }
      })();
      child.send({ t: 'go' });
      await finished;
      const end = performance.now() + 10_000;
      while (seen.size < done.total && performance.now() < end) await sleep(10);
      abort.abort();
      await watching;
      const latencies = [];
      for (const [id, at] of seen) if (committed.has(id)) latencies.push(at - committed.get(id));
      latencies.sort((a, b) => a - b);
      return { done, seen: seen.size, latencies };
    },
    kill: () => child.kill('SIGKILL'),
  };
}

/** The `p` quantile of sorted `xs`. */
export const quantile = (xs, p) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))];

async function main({ path, rate, seconds, mode, relayUrl }) {
  const [{ Registry, TriangularStore, openStore }, { SqliteAdapter }, { EdgeSync, SecureEdge }, { nodeServeSecureRelay, serveEdge }] = await Promise.all([
    import('@cse/core'),
    import('@cse/adapter-sqlite'),
    import('@cse/sync'),
    import('@cse/sync/node'),
  ]);
  const store = openStore(new SqliteAdapter({ path, synchronous: 'FULL' }));
  const registry = new Registry();
  registry.registerWorkerType(WORKER_TYPE, 'v1');
  const triangular = new TriangularStore(store, registry);
  const sync = new EdgeSync({ store, registry, triangular });
  if (mode === 'direct') {
    const server = await serveEdge(sync);
    process.send({ t: 'ready', url: server.url });
  } else {
    const secure = await SecureEdge.open({ store });
    const served = await nodeServeSecureRelay({ url: relayUrl, secure, edge: sync });
    const offer = await served.createPairingCode();
    process.send({ t: 'ready', code: offer.code });
  }
  process.on('message', async (m) => {
    if (m.t !== 'go') return;
    const total = Math.round(rate * seconds);
    const t0 = performance.now();
    let batch = [];
    let flushed = performance.now();
    for (let k = 0; k < total; k++) {
      const wait = t0 + (k * 1000) / rate - performance.now();
      if (wait > 1) await sleep(wait);
      const id = `lat-${k}`;
      await triangular.saveObserved(WORKER_TYPE, id, { ...observed(k), uptimeSec: -1 });
      batch.push([id, now()]);
      if (performance.now() - flushed > 50) {
        process.send({ t: 'committed', batch });
        batch = [];
        flushed = performance.now();
        await sleep(0);
      }
    }
    process.send({ t: 'committed', batch });
    process.send({ t: 'done', total, achievedRate: total / ((performance.now() - t0) / 1000), stats: sync.stats });
  });
}

if (process.argv[1] === self && process.send !== undefined) await main(JSON.parse(process.argv[2]));
