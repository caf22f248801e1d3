// S3: single-document commits at the default durability (SQLite, synchronous=FULL), issue 26.
// Runs once, not per adapter. Concurrent writers in one process (as the Edge applies the
// Frontends' writes) commit one document each time, with the adapter's group commit on and off:
//   - open loop at a fixed rate (1,000/s by default): each commit has a scheduled time, and its
//     latency runs from that time to the commit's return (queueing included, so a store that
//     falls behind shows it); achieved commits/s, median and p99;
//   - closed loop: as many commits as the writers can make, commits/s;
//   - upload: 1,000 Desired writes saved at once on a Frontend (its replica on SQLite FULL too),
//     over a loopback WebSocket, until every result is back (the Frontend's `pending` is 0).
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { Registry, TriangularStore, openStore } from '@cse/core';
import { SqliteAdapter } from '@cse/adapter-sqlite';
import { EdgeSync, FrontendSync } from '@cse/sync';
import { nodeWebSocketConnector, serveEdge } from '@cse/sync/node';
import { COLLECTION, WORKER_TYPE, observed } from '../lib/docs.js';
import { quantile } from '../lib/edge-child.js';

/** Commits at `rate`/s for `seconds`, spread over `writers` concurrent loops; latencies from the scheduled times. */
async function openLoop(store, tag, rate, seconds, writers) {
  const total = Math.round(rate * seconds);
  const latencies = [];
  const start = performance.now() + 5;
  const lastDone = { t: start };
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let k = w; k < total; k += writers) {
        const due = start + (k * 1000) / rate;
        // A timer may fire up to a millisecond before `due` by performance.now() (Node rounds the
        // delay and reads its own clock): wait again until it is due, or a latency comes out negative.
        for (let wait = due - performance.now(); wait > 0; wait = due - performance.now()) await new Promise((r) => setTimeout(r, Math.ceil(wait)));
        await store.insert(COLLECTION, { id: `${tag}-${k}`, ...observed(k) });
        const now = performance.now();
        latencies.push(now - due);
        if (now > lastDone.t) lastDone.t = now;
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const round = (x) => Number(x.toFixed(2));
  return { rate, commits: total, perSecond: Math.round(total / ((lastDone.t - start) / 1000)), medianMs: round(quantile(latencies, 0.5)), p99Ms: round(quantile(latencies, 0.99)), maxMs: round(latencies[latencies.length - 1]) };
}

/** As many commits as `writers` loops make in `ms`. */
async function closedLoop(store, tag, ms, writers) {
  const end = performance.now() + ms;
  let count = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let i = 0; performance.now() < end; i++) {
        await store.insert(COLLECTION, { id: `${tag}-${w}-${i}`, ...observed(i) });
        count++;
      }
    }),
  );
  return Math.round(count / ((performance.now() - t0) / 1000));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** 1,000 Desired writes saved together on a Frontend until all their results are back, over a loopback WebSocket. */
export async function upload(dir, groupCommit, writes) {
  const registry = () => {
    const r = new Registry();
    r.registerWorkerType(WORKER_TYPE, 'v1');
    return r;
  };
  const edgeStore = openStore(new SqliteAdapter({ path: join(dir, `s3-upload-edge-${groupCommit}.db`), synchronous: 'FULL', groupCommit }));
  const reg = registry();
  const sync = new EdgeSync({ store: edgeStore, registry: reg, triangular: new TriangularStore(edgeStore, reg) });
  const server = await serveEdge(sync);
  const replica = openStore(new SqliteAdapter({ path: join(dir, `s3-upload-replica-${groupCommit}.db`), synchronous: 'FULL' }));
  const fe = new FrontendSync({ store: replica, registry: registry(), connect: nodeWebSocketConnector(server.url), subscription: { workerTypes: [WORKER_TYPE] } });
  try {
    await fe.start();
    while (fe.status !== 'live') await sleep(5);
    const t0 = performance.now();
    await Promise.all(Array.from({ length: writes }, (_, i) => fe.saveDesired(WORKER_TYPE, `d${i}`, { target: i })));
    const saved = performance.now() - t0;
    while (fe.pending > 0) await sleep(1);
    const ms = performance.now() - t0;
    return { groupCommit, writes, savedLocallyMs: Math.round(saved), allResultsMs: Math.round(ms), perSecond: Math.round(writes / (ms / 1000)) };
  } finally {
    await fe.stop();
    await replica.close();
    await sync.close();
    await server.close();
    await edgeStore.close();
  }
}

export default {
  id: 'S3',
  title: 'single-document commits at the default durability (SQLite FULL), group commit on and off',
  async run(ctx, params) {
    const rate = params.commitRate ?? 1000;
    const seconds = params.commitSeconds ?? 5;
    const writers = params.commitWriters ?? 16;
    const rows = [];
    for (const groupCommit of [true, false]) {
      const store = openStore(new SqliteAdapter({ path: join(ctx.dir, `s3-${groupCommit ? 'grouped' : 'alone'}.db`), synchronous: 'FULL', groupCommit }));
      try {
        await closedLoop(store, 'warm', 300, writers);
        const open = await openLoop(store, 'open', rate, seconds, writers);
        const closed = await closedLoop(store, 'closed', seconds * 1000, writers);
        const row = { groupCommit, writers, ...open, closedLoopPerSecond: closed };
        ctx.log(JSON.stringify(row));
        rows.push(row);
      } finally {
        await store.close();
      }
    }
    const uploads = [];
    for (const groupCommit of [true, false]) {
      const row = await upload(ctx.dir, groupCommit, params.uploadWrites ?? 1000);
      ctx.log(JSON.stringify(row));
      uploads.push(row);
    }
    const grouped = rows[0];
    return {
      rows,
      uploads,
      goal: { rate, p99Ms: 50 },
      met: grouped.perSecond >= rate * 0.98 && grouped.p99Ms < 50,
    };
  },
};
