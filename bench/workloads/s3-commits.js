// S3: single-document commits at the default durability (SQLite, synchronous=FULL), issue 26.
// Runs once, not per adapter. Concurrent writers in one process (as the Edge applies the
// Frontends' writes) commit one document each time, with the adapter's group commit on and off:
//   - open loop at a fixed rate (1,000/s by default): each commit has a scheduled time, and its
//     latency runs from that time to the commit's return (queueing included, so a store that
//     falls behind shows it); achieved commits/s, median and p99;
//   - closed loop: as many commits as the writers can make, commits/s.
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { openStore } from '@cse/core';
import { SqliteAdapter } from '@cse/adapter-sqlite';
import { COLLECTION, observed } from '../lib/docs.js';
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
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
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
    const grouped = rows[0];
    return {
      rows,
      goal: { rate, p99Ms: 50 },
      met: grouped.perSecond >= rate * 0.98 && grouped.p99Ms < 50,
    };
  },
};
