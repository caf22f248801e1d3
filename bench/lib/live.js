// Helpers of W7 (live changes): a paced writer, a latency-recording watcher, idle-cost sampling.
import { createHook } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';

/** Epoch milliseconds with sub-millisecond resolution, comparable between processes on one machine. */
export const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Inserts one document every 1000/rate ms for `ms` (scheduled from the start, so a slow commit
 * is followed by the next one at once). Returns { acked: Map id → epoch ms the commit resolved, seconds }.
 */
export async function pacedWrites(store, { rate, ms, tag }) {
  const acked = new Map();
  const start = now();
  const interval = 1000 / rate;
  for (let i = 0; ; i++) {
    const due = start + i * interval;
    if (due - start >= ms) break;
    const wait = due - now();
    if (wait > 0.5) await sleep(wait);
    const id = `${tag}-${i}`;
    await store.insert('live', { id, i });
    acked.set(id, now());
  }
  return { acked, seconds: (now() - start) / 1000 };
}

/** Watches `store` from `cursor`; `seen` maps each document id to the epoch ms it arrived. */
export function recordingWatcher(store, cursor) {
  const controller = new AbortController();
  const seen = new Map();
  const done = (async () => {
    for await (const page of store.watch(cursor, { signal: controller.signal, collections: ['live'] })) {
      const t = now();
      for (const c of page.changes) seen.set(c.id, t);
    }
  })();
  return {
    seen,
    async waitFor(ids, timeoutMs = 5000) {
      const deadline = now() + timeoutMs;
      while (ids.some((id) => !seen.has(id)) && now() < deadline) await sleep(5);
    },
    async stop() {
      controller.abort();
      await done;
    },
  };
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Latency figures (ms) of acknowledged commits: receipt minus acknowledgement, floored at 0. */
export function latencies(acked, seen) {
  const values = [];
  let missing = 0;
  for (const [id, t] of acked) {
    const s = seen.get(id);
    if (s === undefined) missing++;
    else values.push(Math.max(0, s - t));
  }
  values.sort((a, b) => a - b);
  return { count: values.length, missing, medianMs: percentile(values, 50), p99Ms: percentile(values, 99), maxMs: values.at(-1) ?? NaN };
}

/**
 * CPU time (user + system, ms per second) and event-loop callbacks per second of this process
 * over `ms`. Callbacks are counted with an async hook's `before`: timers, I/O and promise jobs.
 */
export async function idleCost(ms) {
  let callbacks = 0;
  const hook = createHook({ before: () => void callbacks++ }).enable();
  const cpu = process.cpuUsage();
  const start = now();
  await sleep(ms);
  const used = process.cpuUsage(cpu);
  const seconds = (now() - start) / 1000;
  hook.disable();
  return { cpuMsPerSec: (used.user + used.system) / 1000 / seconds, wakeupsPerSec: Math.max(0, callbacks - 1) / seconds };
}
