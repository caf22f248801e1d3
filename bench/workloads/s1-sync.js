// S1: the sync layer (@cse/sync). Not a raw-vs-CSE pair like W1-W6 (there is no hand-written
// baseline of a sync protocol): it runs once, with the Edge and the replica both on SQLite, and
// measures against the Edge's own change-feed read rate over the same documents.
//   - initial sync of N documents into an empty replica, over the in-process memory pair and a
//     loopback WebSocket: documents/s, and that rate ÷ the Edge's changesSince read rate;
//   - bytes per change (both directions): UTF-8 bytes of the frames, and over the WebSocket the
//     bytes on the wire (a counting TCP proxy: framing and permessage-deflate included), with
//     compression on (serveEdge's default) and off ('ws-plain'); CPU time per change (user +
//     system of this process, Edge and replica together);
//   - heap during the initial sync (process.memoryUsage().heapUsed sampled every 10 ms; Edge and
//     replica share this process): the peak above the heap after a GC at the start, at a small
//     and a large N — it must not grow with N;
//   - commit-to-replica latency at a steady rate of single-change commits (median, p99), over
//     the WebSocket, the Edge and its writer in their own process (lib/edge-child.js): from the
//     Edge commit's return to the replica's commit of that change (seen by a watch on the
//     replica's store).
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { Registry, TriangularStore, openStore } from '@cse/core';
import { SqliteAdapter } from '@cse/adapter-sqlite';
import { EdgeSync, FrontendSync, memoryPair } from '@cse/sync';
import { nodeWebSocketConnector, serveEdge } from '@cse/sync/node';
import { COLLECTION, WORKER_TYPE, batch } from '../lib/docs.js';
import { quantile, startEdgeChild } from '../lib/edge-child.js';
import { byteProxy } from '../lib/byte-proxy.js';

/** Bytes per synced document of the best peer in issue 26's run (PouchDB, gzip), the goal. */
export const BYTES_GOAL = 151;

const SEED_CHUNK = 1000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function registry() {
  const r = new Registry();
  r.registerWorkerType(WORKER_TYPE, 'v1');
  return r;
}

async function openEdge(path, docs) {
  const adapter = new SqliteAdapter({ path, synchronous: 'FULL' });
  const store = openStore(adapter);
  const reg = registry();
  const triangular = new TriangularStore(store, reg);
  // Untimed seeding, straight to the adapter's commit as in W4/W5.
  for (let i = 0; i < docs; i += SEED_CHUNK) {
    const writes = batch('doc-', i, Math.min(SEED_CHUNK, docs - i)).map((body) => ({ collection: COLLECTION, id: body.id, kind: 'put', body }));
    const result = await adapter.commit({ writes, now: new Date().toISOString() });
    if (!result.ok) throw new Error('seeding failed');
  }
  return { store, registry: reg, triangular };
}

/** The Edge's own read of every change, pages of `limit`: changes per second. */
async function readRate(store, limit) {
  const t0 = performance.now();
  let n = 0;
  for (let cursor = 0; ; ) {
    const page = await store.changesSince(cursor, { collections: [COLLECTION], limit });
    n += page.changes.length;
    cursor = page.cursor;
    if (!page.hasMore) break;
  }
  return n / ((performance.now() - t0) / 1000);
}

/** Counts the UTF-8 bytes of every frame both ways. */
function counting(connect, counter) {
  return async () => {
    const inner = await connect();
    const outer = {
      send(frame) {
        counter.bytes += Buffer.byteLength(frame);
        inner.send(frame);
      },
      close: (reason) => inner.close(reason),
      get buffered() {
        return inner.buffered;
      },
      onmessage: undefined,
      onclose: undefined,
    };
    inner.onmessage = (frame) => {
      counter.bytes += Buffer.byteLength(frame);
      outer.onmessage?.(frame);
    };
    inner.onclose = (reason) => outer.onclose?.(reason);
    return outer;
  };
}

function frontend(path, connect) {
  const store = openStore(new SqliteAdapter({ path, synchronous: 'FULL' }));
  return new FrontendSync({ store, registry: registry(), connect, subscription: { collections: [COLLECTION] } });
}

/** Until the replica says it is live with `docs` changes applied on this connection. */
async function untilLive(fe, docs, sample) {
  while (!(fe.status === 'live' && fe.progress.applied >= docs)) {
    sample();
    await sleep(10);
  }
}

/** One initial sync of the Edge's `docs` documents into a fresh replica. */
async function initialSync(env, tag, edge, docs, via, pageSize = 200) {
  const sync = new EdgeSync({ store: edge.store, registry: edge.registry, triangular: edge.triangular, pageSize });
  const counter = { bytes: 0 };
  let server;
  let proxy;
  let connect;
  if (via === 'ws' || via === 'ws-plain') {
    server = await serveEdge(sync, { compression: via === 'ws' });
    proxy = await byteProxy({ host: '127.0.0.1', port: server.port });
    connect = nodeWebSocketConnector(proxy.url);
  } else {
    connect = async () => {
      const [a, b] = memoryPair();
      sync.accept(b);
      return a;
    };
  }
  const fe = frontend(join(env.dir, `sync-${tag}-${via}-${pageSize}-replica.db`), counting(connect, counter));
  globalThis.gc?.();
  const heapStart = process.memoryUsage().heapUsed;
  let heapPeak = heapStart;
  // heapUsed includes garbage not yet collected; every 250 ms a forced GC (with --expose-gc)
  // shows what is retained, which is what must not grow with the number of documents.
  let retainedPeak = heapStart;
  let lastGc = performance.now();
  const sample = () => {
    const h = process.memoryUsage().heapUsed;
    if (h > heapPeak) heapPeak = h;
    if (globalThis.gc && performance.now() - lastGc > 250) {
      globalThis.gc();
      lastGc = performance.now();
      const r = process.memoryUsage().heapUsed;
      if (r > retainedPeak) retainedPeak = r;
    }
  };
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await fe.start();
  await untilLive(fe, docs, sample);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const stats = { ...sync.stats };
  await fe.stop();
  await fe.store.close();
  await sync.close();
  await proxy?.close();
  await server?.close();
  const wire = proxy === undefined ? {} : { wireBytesPerChange: proxy.counter.bytes / docs };
  return { via, docs, pageSize, seconds, docsPerSec: docs / seconds, bytesPerChange: counter.bytes / docs, ...wire, cpuUsPerChange: (cpu.user + cpu.system) / docs, heapPeakGrowthMb: (heapPeak - heapStart) / 2 ** 20, heapRetainedGrowthMb: (retainedPeak - heapStart) / 2 ** 20, pages: stats.pagesSent, changesSent: stats.changesSent };
}

/**
 * Single-change commits at `rate` per second for `seconds`, by an Edge in its own process
 * (lib/edge-child.js) on the store at `path`; the replica here follows over a WebSocket.
 */
async function latency(env, path, docs, rate, seconds) {
  const edge = await startEdgeChild({ path, rate, seconds });
  const fe = frontend(join(env.dir, 'sync-latency-replica.db'), nodeWebSocketConnector(edge.ready.url));
  await fe.start();
  await untilLive(fe, docs, () => undefined);
  const { done, seen, latencies } = await edge.follow(fe.store);
  await fe.stop();
  await fe.store.close();
  edge.kill();
  const total = done.total;
  return { targetRate: rate, achievedRate: done.achievedRate, changes: total, seen, lost: total - seen, medianMs: quantile(latencies, 0.5), p99Ms: quantile(latencies, 0.99), maxMs: latencies[latencies.length - 1] };
}

export default {
  id: 'S1',
  title: 'sync: initial sync into an empty replica (memory pair, loopback WebSocket), latency at a steady rate, bytes per change, heap',
  async run(env, params) {
    const log = env.log ?? (() => undefined);
    const out = { params: { large: params.syncLarge, small: params.syncSmall, rate: params.syncRate, seconds: params.syncSeconds }, initial: [] };
    for (const docs of [params.syncSmall, params.syncLarge]) {
      const edge = await openEdge(join(env.dir, `sync-edge-${docs}.db`), docs);
      const rate = await readRate(edge.store, 200);
      log(`S1 ${docs} docs: edge changesSince ${Math.round(rate)}/s`);
      // Pages of 200 (the default) both ways; pages of 1000 over the WebSocket, since the
      // replica's commit per page (an fsync under FULL) is most of the cost.
      // Compression off too ('ws-plain'), for its bytes and CPU against the default.
      for (const [via, pageSize] of [['memory', 200], ['ws', 200], ['ws-plain', 200], ['ws', 1000]]) {
        const r = await initialSync(env, String(docs), edge, docs, via, pageSize);
        r.edgeReadPerSec = rate;
        r.ratio = r.docsPerSec / rate;
        log(`S1 ${docs} docs via ${via}, pages of ${pageSize}: ${Math.round(r.docsPerSec)}/s (${r.ratio.toFixed(2)} of the edge read), ${r.bytesPerChange.toFixed(0)} B/change in frames${r.wireBytesPerChange === undefined ? '' : `, ${r.wireBytesPerChange.toFixed(0)} B/change on the wire`}, ${r.cpuUsPerChange.toFixed(0)} µs CPU/change, heap +${r.heapPeakGrowthMb.toFixed(1)} MB peak, +${r.heapRetainedGrowthMb.toFixed(1)} MB retained`);
        out.initial.push(r);
      }
      if (docs === params.syncSmall) {
        out.latency = await latency(env, join(env.dir, `sync-edge-${docs}.db`), docs, params.syncRate, params.syncSeconds);
        log(`S1 latency at ${params.syncRate}/s: median ${out.latency.medianMs.toFixed(1)} ms, p99 ${out.latency.p99Ms.toFixed(1)} ms`);
      }
      await edge.store.close();
    }
    // The goal of issue 26: bytes on the wire per synced document at or below the best peer's.
    const wire = out.initial.filter((r) => r.via === 'ws' && r.pageSize === 200).map((r) => r.wireBytesPerChange);
    out.bytesGoal = { goal: BYTES_GOAL, worst: Math.max(...wire), met: Math.max(...wire) <= BYTES_GOAL };
    return out;
  },
};
