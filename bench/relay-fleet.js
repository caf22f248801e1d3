// The relay fleet at scale (issue 23), not part of the tests:
//
//   node bench/relay-fleet.js [--edges 1000,10000] [--nodes 4] [--frontends 1000] [--rest-ms 15000]
//
// For each Edge count: a redis-server of its own, `--nodes` relay nodes (lib/relay-process.js,
// one process each, startRelay from dist with `redis`), simulated Edges (lib/fleet-edges.js: own
// P-256 key each, registered on the nodes in turn, answering session requests), then:
// - memory per idle connection: each node's heap and RSS after a GC, before and after its Edges
//   registered, divided by its connections; against one relay without Redis holding as many Edges;
// - Redis commands at rest over --rest-ms (sent by the nodes, and executed by the server, which
//   counts the commands inside Lua scripts too);
// - --frontends Frontends, 10 at a time, each to a random Edge, alternately through the node the
//   Edge is registered on (same node) and through a random other node (cross node), so that load
//   from elsewhere hits both alike: the time from the hello to the Edge's first frame;
// - Redis commands per session besides renewals: 100 same-node sessions, then 100 cross-node ones.
// The nodes are reached directly (no load balancer) so that only the relays are measured.
// Prints the figures as JSON and writes nothing; bench/RESULTS.md quotes a run.
import { fork } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { WebSocket } from 'ws';
import { startRedis } from './lib/redis-server.js';

const { values } = parseArgs({
  options: { edges: { type: 'string', default: '1000,10000' }, nodes: { type: 'string', default: '4' }, frontends: { type: 'string', default: '1000' }, 'rest-ms': { type: 'string', default: '15000' } },
});
const edgeCounts = values.edges.split(',').map(Number);
const nodeCount = Number(values.nodes);
const frontendCount = Number(values.frontends);
const restMs = Number(values['rest-ms']);
const lib = (f) => fileURLToPath(new URL(`./lib/${f}`, import.meta.url));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function child(file, cfg, execArgv = []) {
  const c = fork(lib(file), [JSON.stringify(cfg)], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiters = [];
  c.on('message', (m) => {
    const w = waiters.findIndex((x) => x.t === m.t);
    if (w >= 0) waiters.splice(w, 1)[0].resolve(m);
  });
  return {
    c,
    next: (t) => new Promise((resolve) => waiters.push({ t, resolve })),
    ask: (m) => {
      const p = new Promise((resolve) => waiters.push({ t: m.t, resolve }));
      c.send(m);
      return p;
    },
    kill: () => c.kill('SIGKILL'),
  };
}

async function startNode(cfg) {
  const n = child('relay-process.js', cfg, ['--expose-gc']);
  const ready = await n.next('ready');
  return { ...n, url: ready.url };
}

const stats = (n) => n.ask({ t: 'stats' });
const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const round = (x, d = 2) => Number(x.toFixed(d));

/** One Frontend: hello through `url` with `token`, resolves with ms from the hello to the Edge's first frame. */
function frontend(url, edgeId, token) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url}/connect`);
    let t0 = 0;
    let ready = false;
    ws.on('error', reject);
    ws.on('open', () => {
      t0 = performance.now();
      ws.send(JSON.stringify({ t: 'hello', edgeId, token }));
    });
    ws.on('message', (d) => {
      if (!ready) {
        ready = JSON.parse(String(d)).t === 'ready';
        return;
      }
      const ms = performance.now() - t0;
      ws.close();
      resolve(ms);
    });
    ws.on('close', (code) => reject(new Error(`closed ${code} before the first frame`)));
  });
}

async function scenario(edges) {
  const dir = await mkdtemp(join(tmpdir(), 'cse-fleet-bench-'));
  const redis = await startRedis(dir);
  const probe = new Redis(redis.url);
  const serverCommands = async () => Number(/total_commands_processed:(\d+)/.exec(await probe.info('stats'))[1]);
  const nodes = [];
  const out = { edges, nodes: nodeCount, frontends: frontendCount };
  try {
    for (let i = 0; i < nodeCount; i++) nodes.push(await startNode({ redis: redis.url, nodeId: `n${i + 1}`, maxConnections: 30_000 }));
    const single = await startNode({ maxConnections: 30_000 });
    const before = await Promise.all([...nodes, single].map(stats));

    // Edges: `edges` across the fleet, and as many as one node holds on the single relay.
    const perNode = Math.ceil(edges / nodeCount);
    const sim = child('fleet-edges.js', { urls: nodes.map((n) => n.url), count: edges, concurrency: 100 });
    const simReady = await sim.next('ready');
    const simSingle = child('fleet-edges.js', { urls: [single.url], count: perNode, concurrency: 100 });
    await simSingle.next('ready');
    out.registerSeconds = round(simReady.ms / 1000, 1);
    await sleep(1000);
    const after = await Promise.all([...nodes, single].map(stats));
    const perConn = (i) => {
      const conns = after[i].relay.connections;
      return { heapKiB: (after[i].memory.heapUsed - before[i].memory.heapUsed) / 1024 / conns, rssKiB: (after[i].memory.rss - before[i].memory.rss) / 1024 / conns, conns };
    };
    const fleetPer = nodes.map((_, i) => perConn(i));
    const singlePer = perConn(nodeCount);
    const heapFleet = fleetPer.reduce((a, x) => a + x.heapKiB, 0) / nodeCount;
    const rssFleet = fleetPer.reduce((a, x) => a + x.rssKiB, 0) / nodeCount;
    out.memoryPerIdleConnection = {
      fleetNodeHeapKiB: round(heapFleet),
      fleetNodeRssKiB: round(rssFleet),
      singleRelayHeapKiB: round(singlePer.heapKiB),
      singleRelayRssKiB: round(singlePer.rssKiB),
      heapRatio: round(heapFleet / singlePer.heapKiB),
      connectionsPerNode: fleetPer.map((x) => x.conns),
    };
    simSingle.kill();
    single.kill();

    // At rest: lease renewals only.
    const fleetCounters = async () => {
      const all = await Promise.all(nodes.map(stats));
      return { sent: all.reduce((a, s) => a + s.relay.fleet.redisCommands, 0), renewals: all.reduce((a, s) => a + s.relay.fleet.redisRenewals, 0) };
    };
    const rest0 = await fleetCounters();
    const server0 = await serverCommands();
    const t0 = performance.now();
    await sleep(restMs);
    const seconds = (performance.now() - t0) / 1000;
    const rest1 = await fleetCounters();
    const server1 = await serverCommands();
    out.redisAtRest = {
      seconds: round(seconds, 1),
      sentPerSecond: round((rest1.sent - rest0.sent) / seconds, 1),
      sentPerSecondPerEdge: round((rest1.sent - rest0.sent) / seconds / edges, 3),
      renewalsOfThose: rest1.renewals - rest0.renewals,
      executedPerSecond: round((server1 - server0 - 2) / seconds, 1),
    };

    // Frontends to random Edges, 10 at a time: half through the Edge's node, half through another.
    const { tokens } = await sim.ask({ t: 'tokens', n: frontendCount });
    const other = (home) => (home + 1 + Math.floor(Math.random() * (nodeCount - 1))) % nodeCount;
    const phase = async (list, pick) => {
      const times = [];
      let failed = 0;
      let k = 0;
      const before = await fleetCounters();
      await Promise.all(
        Array.from({ length: 10 }, async () => {
          while (k < list.length) {
            const i = k++;
            const t = list[i];
            try {
              times.push([i, await frontend(nodes[pick(t.home, i)].url, t.edgeId, t.token)]);
            } catch {
              failed++;
            }
          }
        }),
      );
      const after = await fleetCounters();
      const perSession = (after.sent - after.renewals - (before.sent - before.renewals)) / times.length;
      const summary = (xs) => ({ n: xs.length, medianMs: round(quantile(xs, 0.5)), p99Ms: round(quantile(xs, 0.99)) });
      return {
        same: summary(times.filter(([i]) => i % 2 === 0).map(([, ms]) => ms)),
        cross: summary(times.filter(([i]) => i % 2 === 1).map(([, ms]) => ms)),
        failed,
        redisCommandsPerSession: round(perSession, 2),
      };
    };
    const mixed = await phase(tokens, (home, i) => (i % 2 === 0 ? home : other(home)));
    out.routing = { sameNode: mixed.same, crossNode: mixed.cross, failed: mixed.failed, crossOverSameMedian: round(mixed.cross.medianMs / mixed.same.medianMs), crossOverSameP99: round(mixed.cross.p99Ms / mixed.same.p99Ms) };
    const { tokens: more } = await sim.ask({ t: 'tokens', n: 200 });
    out.redisCommandsPerSession = {
      sameNode: (await phase(more.slice(0, 100), (home) => home)).redisCommandsPerSession,
      crossNode: (await phase(more.slice(100), (home) => other(home))).redisCommandsPerSession,
    };
    sim.kill();
  } finally {
    for (const n of nodes) n.kill();
    probe.disconnect();
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  }
  return out;
}

const results = { started: new Date().toISOString(), loadStart: loadavg().map((x) => round(x)), scenarios: [] };
for (const edges of edgeCounts) {
  const r = await scenario(edges);
  console.error(JSON.stringify(r));
  results.scenarios.push(r);
}
results.loadEnd = loadavg().map((x) => round(x));
console.log(JSON.stringify(results, null, 2));
process.exit(0);
