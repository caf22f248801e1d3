// One relay node of the fleet bench, in its own process (started with --expose-gc): startRelay
// from @cse/relay's dist, in a fleet when `redis` is given, alone otherwise. On { t: 'stats' } it
// reports its memory after a GC and the relay's counters (Redis commands included).
import { startRelay } from '@cse/relay';

const cfg = JSON.parse(process.argv[2]);
const relay = await startRelay({
  host: '127.0.0.1',
  port: 0,
  maxConnections: 30_000,
  maxFrontendsPerEdge: 1000,
  idleTimeoutMs: 600_000,
  ...(cfg.redis === undefined ? {} : { redis: cfg.redis, nodeId: cfg.nodeId }),
});
process.send({ t: 'ready', url: relay.url });
process.on('message', async (m) => {
  if (m.t !== 'stats') return;
  if (globalThis.gc) {
    globalThis.gc();
    await new Promise((r) => setTimeout(r, 50));
    globalThis.gc();
  }
  process.send({ t: 'stats', id: m.id, memory: process.memoryUsage(), relay: relay.stats() });
});
