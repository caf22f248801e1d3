// Measures the SQLite adapter's watchIntervalMs choice: cross-process commit-to-watcher latency
// at 100 commits/s and the idle cost of one watcher, per interval.
// node bench/lib/sqlite-interval.js [5,10,25] [seconds per point]
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore } from '@cse/core';
import { SqliteAdapter } from '@cse/adapter-sqlite';
import { idleCost, latencies, recordingWatcher } from './live.js';

const intervals = (process.argv[2] ?? '5,10,25').split(',').map(Number);
const ms = Number(process.argv[3] ?? 3) * 1000;
const dir = mkdtempSync(join(tmpdir(), 'cse-interval-'));
const env = { dir, options: {} };
const child = fork(fileURLToPath(new URL('./live-writer.js', import.meta.url)), [JSON.stringify({ adapter: 'sqlite', store: 'iv', env })]);
const ask = (msg) => new Promise((resolve) => { child.once('message', resolve); child.send(msg); });
await ask({ cmd: 'open' });
try {
  for (const interval of intervals) {
    const store = openStore(new SqliteAdapter({ path: join(dir, 'iv.cse.db'), watchIntervalMs: interval }));
    const watcher = recordingWatcher(store, (await store.adapter.sequence()).lastSyncId);
    const reply = await ask({ cmd: 'run', rate: 100, ms, tag: `iv${interval}` });
    const acked = new Map(reply.acked);
    await watcher.waitFor([...acked.keys()]);
    await watcher.stop();
    const lat = latencies(acked, watcher.seen);
    const without = await idleCost(ms);
    const idle = recordingWatcher(store, (await store.adapter.sequence()).lastSyncId);
    const withWatcher = await idleCost(ms);
    await idle.stop();
    await store.close();
    console.log(JSON.stringify({ interval, medianMs: +lat.medianMs.toFixed(2), p99Ms: +lat.p99Ms.toFixed(2), maxMs: +lat.maxMs.toFixed(2), n: lat.count, missing: lat.missing, idleCpuMsPerSec: +(withWatcher.cpuMsPerSec - without.cpuMsPerSec).toFixed(2), idleWakeupsPerSec: +(withWatcher.wakeupsPerSec - without.wakeupsPerSec).toFixed(1) }));
  }
} finally {
  await ask({ cmd: 'close' });
  rmSync(dir, { recursive: true, force: true });
}
