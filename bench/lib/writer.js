// One W6 writer process: opens one side of one adapter on the shared store, then saves new
// workers for as long as the parent asks, and reports how many.
import { performance } from 'node:perf_hooks';
import { ADAPTERS, openSide } from '../adapters.js';
import { observed } from './docs.js';
import { MemorySampler } from './measure.js';

const { adapter, side, store, writer, env } = JSON.parse(process.argv[2]);
let target;

process.on('message', async (msg) => {
  try {
    if (msg.cmd === 'open') {
      target = await openSide(ADAPTERS[adapter], side, store, env);
      process.send({ ok: true });
    } else if (msg.cmd === 'run') {
      const mem = new MemorySampler();
      const start = performance.now();
      const deadline = start + msg.ms;
      let count = 0;
      while (performance.now() < deadline) {
        await target.saveNew(`r${msg.tag}-p${writer}-${count}`, observed(count));
        count++;
        mem.sample();
      }
      process.send({ count, seconds: (performance.now() - start) / 1000, ...mem.result() });
    } else if (msg.cmd === 'close') {
      await target?.close();
      process.send({ ok: true });
      process.disconnect();
    }
  } catch (e) {
    process.send({ error: e instanceof Error ? `${e.message}${e.cause ? ` (cause: ${e.cause.message ?? e.cause})` : ''}` : String(e) });
  }
});
