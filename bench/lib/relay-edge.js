// The Edge of S2's latency runs, in its own process (like lib/sync-edge.js for S1): serves the
// SQLite store at argv[2].path either directly on a loopback WebSocket (mode 'direct') or
// through the relay at `relayUrl` behind the encrypted channel (mode 'relay': it reports a
// pairing code). On 'go', commits single changes at `rate` per second for `seconds` and reports
// when each commit returned (performance.timeOrigin + performance.now(), comparable across processes).
import { performance } from 'node:perf_hooks';
import { Registry, TriangularStore, openStore } from '@cse/core';
import { SqliteAdapter } from '@cse/adapter-sqlite';
import { EdgeSync, SecureEdge } from '@cse/sync';
import { nodeServeSecureRelay, serveEdge } from '@cse/sync/node';
import { WORKER_TYPE, observed } from './docs.js';

const { path, rate, seconds, mode, relayUrl } = JSON.parse(process.argv[2]);
const store = openStore(new SqliteAdapter({ path, synchronous: 'FULL' }));
const registry = new Registry();
registry.registerWorkerType(WORKER_TYPE, 'v1');
const triangular = new TriangularStore(store, registry);
const sync = new EdgeSync({ store, registry, triangular });
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
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
  process.send({ t: 'done', total, achievedRate: total / ((performance.now() - t0) / 1000) });
});
