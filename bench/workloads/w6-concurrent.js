import { performance } from 'node:perf_hooks';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { observed } from '../lib/docs.js';

const WRITER = fileURLToPath(new URL('../lib/writer.js', import.meta.url));

// Several writers on one store, each saving new workers (as W1). Where the adapter supports it
// (SQLite: processes on one file; Redis: one client per process) the writers are processes;
// otherwise they are concurrent async loops in this process.
export default {
  id: 'W6',
  title: 'concurrent writers on one store (saveObserved of new workers)',
  unit: 'saves/s (all writers)',
  target: undefined,
  async run(ctx) {
    const n = ctx.params.writers;
    if (ctx.entry.multiProcess) {
      const result = await ctx.compareWith('w6', (side) => processWriters(ctx, side, n));
      return { ...result, mode: `${n} processes` };
    }
    const result = await ctx.pair('w6', (target) => {
      let run = 0;
      return async (ms) => {
        const tag = run++;
        const deadline = performance.now() + ms;
        let count = 0;
        await Promise.all(
          Array.from({ length: n }, async (_, w) => {
            for (let i = 0; performance.now() < deadline; i++) {
              await target.saveNew(`r${tag}-w${w}-${i}`, observed(i));
              count++;
            }
          }),
        );
        return count;
      };
    }, { wholeRun: true });
    return { ...result, mode: `${n} writers in one process; multi-process ${ctx.entry.singleProcessReason}` };
  },
};

/** Starts `n` writer processes for one side; returns { once(ms), close() }. */
async function processWriters(ctx, side, n) {
  const children = [];
  for (let w = 0; w < n; w++) {
    const child = fork(WRITER, [JSON.stringify({ adapter: ctx.adapterName, side, store: 'w6', writer: w, env: ctx.childEnv })], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    children.push(child);
  }
  const ask = (child, msg) =>
    new Promise((resolve, reject) => {
      const onMessage = (reply) => {
        child.off('exit', onExit);
        if (reply.error) reject(new Error(`writer: ${reply.error}`));
        else resolve(reply);
      };
      const onExit = (code) => reject(new Error(`writer exited with ${code}`));
      child.once('message', onMessage);
      child.once('exit', onExit);
      child.send(msg);
    });
  try {
    await Promise.all(children.map((c) => ask(c, { cmd: 'open' })));
  } catch (e) {
    // One writer failed: stop the others too, or their IPC channels keep this process alive.
    for (const c of children) if (c.exitCode === null) c.kill();
    throw e;
  }
  let run = 0;
  return {
    async once(ms) {
      const tag = run++;
      const replies = await Promise.all(children.map((c) => ask(c, { cmd: 'run', ms, tag })));
      return {
        units: replies.reduce((a, r) => a + r.count, 0),
        seconds: Math.max(...replies.map((r) => r.seconds)),
        rssPeakMb: Math.max(...replies.map((r) => r.rssPeakMb)),
        heapGrowthMb: Math.max(...replies.map((r) => r.heapGrowthMb)),
      };
    },
    async close() {
      await Promise.all(children.map((c) => ask(c, { cmd: 'close' }).catch(() => undefined)));
      for (const c of children) if (c.exitCode === null) c.kill();
    },
  };
}
