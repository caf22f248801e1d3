// The relay of S2 (and a node of the fleet bench, relay-fleet.js) in its own process (what
// `cse-relay` runs: startRelay from @cse/relay's dist), started with --expose-gc. An optional
// JSON argument adds relay options (the fleet bench: `redis`, `nodeId`, `maxConnections`). On
// { t: 'stats' } it reports its own CPU time (process.cpuUsage), its memory after a GC, and the
// relay's counters, so the bench reads them from the relay process.
import { startRelay } from '@cse/relay';

const extra = process.argv[2] === undefined ? {} : JSON.parse(process.argv[2]);
const relay = await startRelay({ host: '127.0.0.1', port: 0, idleTimeoutMs: 600_000, maxFrontendsPerEdge: 1000, ...extra });
process.send({ t: 'ready', url: relay.url });
process.on('message', async (m) => {
  if (m.t !== 'stats') return;
  if (globalThis.gc) {
    globalThis.gc();
    await new Promise((r) => setTimeout(r, 50));
    globalThis.gc();
  }
  process.send({ t: 'stats', id: m.id, cpu: process.cpuUsage(), memory: process.memoryUsage(), relay: relay.stats() });
});
