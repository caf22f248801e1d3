import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { openStore } from '@cse/core';
import { idleCost, latencies, pacedWrites, recordingWatcher } from '../lib/live.js';

const WRITER = fileURLToPath(new URL('../lib/live-writer.js', import.meta.url));

// Commit-to-watcher latency: a writer inserts at a fixed rate, a watcher (Store.watch) records
// when each document arrives; latency = arrival minus the writer's acknowledgement. CSE only:
// a raw baseline has no change feed to compare with. "same process": writer and watcher are
// two Stores on one adapter, so the wake-up goes through the adapter's feed (not the Store's own
// commit wake-up). "other process" (SQLite) / "other client" (Redis): the writer is a child
// process with its own adapter. Then the idle cost: CPU and callbacks per second of this
// process with one watcher and no commits, beside the same figure with no watcher.
export default {
  id: 'W7',
  title: 'live changes: commit-to-watcher latency, idle watcher cost',
  unit: 'ms',
  target: undefined, // goals per mode are in report.js (LIVE_GOALS); --quick judges none
  async run(ctx) {
    const { rates, pointMs, idleMs } = ctx.params.live;
    if (!ctx.entry.liveChanges) return { skipped: ctx.entry.liveChangesReason ?? 'n/a: not measured for this adapter' };
    const points = [];
    const adapter = await ctx.entry.adapter('w7', ctx.env);
    const writer = openStore(adapter);
    const reader = openStore(adapter);
    try {
      for (const rate of rates) {
        const cursor = (await reader.adapter.sequence()).lastSyncId;
        const watcher = recordingWatcher(reader, cursor);
        const { acked, seconds } = await pacedWrites(writer, { rate, ms: pointMs, tag: `same-${rate}` });
        await watcher.waitFor([...acked.keys()]);
        await watcher.stop();
        points.push({ mode: 'same process', rate, achievedRate: acked.size / seconds, ...latencies(acked, watcher.seen) });
      }
      if (ctx.entry.multiProcess) {
        const mode = ctx.adapterName === 'redis' ? 'other client' : 'other process';
        const child = await liveWriter(ctx);
        try {
          for (const rate of rates) {
            const cursor = (await reader.adapter.sequence()).lastSyncId;
            const watcher = recordingWatcher(reader, cursor);
            const reply = await child.ask({ cmd: 'run', rate, ms: pointMs, tag: `other-${rate}` });
            const acked = new Map(reply.acked);
            await watcher.waitFor([...acked.keys()]);
            await watcher.stop();
            points.push({ mode, rate, achievedRate: acked.size / reply.seconds, ...latencies(acked, watcher.seen) });
          }
        } finally {
          await child.close();
        }
      }
      const without = await idleCost(idleMs);
      const watcher = recordingWatcher(reader, (await reader.adapter.sequence()).lastSyncId);
      await new Promise((r) => setTimeout(r, 50)); // let the feed settle (Redis: subscriber connects)
      const withWatcher = await idleCost(idleMs);
      await watcher.stop();
      return { points, idle: { without, withWatcher, seconds: idleMs / 1000 }, verdicts: ctx.params.live.verdicts };
    } finally {
      await writer.close();
      await reader.close();
    }
  },
};

async function liveWriter(ctx) {
  const child = fork(WRITER, [JSON.stringify({ adapter: ctx.adapterName, store: 'w7', env: ctx.childEnv })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ask = (msg) =>
    new Promise((resolve, reject) => {
      const onExit = (code) => reject(new Error(`live writer exited with ${code}`));
      child.once('message', (reply) => {
        child.off('exit', onExit);
        if (reply.error) reject(new Error(`live writer: ${reply.error}`));
        else resolve(reply);
      });
      child.once('exit', onExit);
      child.send(msg);
    });
  try {
    await ask({ cmd: 'open' });
  } catch (e) {
    child.kill();
    throw e;
  }
  return {
    ask,
    async close() {
      await ask({ cmd: 'close' }).catch(() => undefined);
      if (child.exitCode === null) child.kill();
    },
  };
}
