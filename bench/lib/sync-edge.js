// The Edge of S1's latency run, in its own process (better-sqlite3 commits block their event
// loop: a writer in the replica's process would delay the replica by its own fsyncs). Serves
// the SQLite store at argv[2].path on a loopback WebSocket; on 'go', commits single changes at
// `rate` per second for `seconds` and reports when each commit returned (absolute ms, comparable
// across processes on one machine: performance.timeOrigin + performance.now()).
import { performance } from 'node:perf_hooks';
import { Registry, TriangularStore, openStore } from '@cse/core';
import { SqliteAdapter } from '@cse/adapter-sqlite';
import { EdgeSync } from '@cse/sync';
import { serveEdge } from '@cse/sync/node';
import { WORKER_TYPE, observed } from './docs.js';

const { path, rate, seconds } = JSON.parse(process.argv[2]);
const store = openStore(new SqliteAdapter({ path, synchronous: 'FULL' }));
const registry = new Registry();
registry.registerWorkerType(WORKER_TYPE, 'v1');
const triangular = new TriangularStore(store, registry);
const sync = new EdgeSync({ store, registry, triangular });
const server = await serveEdge(sync);
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
process.send({ t: 'ready', url: server.url });

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
  process.send({ t: 'done', total, achievedRate: total / ((performance.now() - t0) / 1000), bytesSent: undefined, stats: sync.stats });
});
