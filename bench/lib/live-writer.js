// A W7 writer process: opens the adapter on the shared store, commits at the pace the parent
// asks for, and sends back when each commit was acknowledged.
import { openStore } from '@cse/core';
import { ADAPTERS } from '../adapters.js';
import { pacedWrites } from './live.js';

const { adapter, store: name, env } = JSON.parse(process.argv[2]);
let store;

process.on('message', async (msg) => {
  try {
    if (msg.cmd === 'open') {
      store = openStore(await ADAPTERS[adapter].adapter(name, env));
      process.send({ ok: true });
    } else if (msg.cmd === 'run') {
      const { acked, seconds } = await pacedWrites(store, msg);
      process.send({ acked: [...acked], seconds });
    } else if (msg.cmd === 'close') {
      await store?.close();
      process.send({ ok: true });
      process.disconnect();
    }
  } catch (e) {
    process.send({ error: e instanceof Error ? e.message : String(e) });
  }
});
