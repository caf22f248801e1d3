// The relay fleet at scale (issue 23), not part of the tests:
//
//   node bench/relay-fleet.js [--edges 1000,10000] [--nodes 4] [--frontends 1000] [--rest-ms 15000]
//
// For each Edge count: a redis-server of its own, `--nodes` relay nodes (lib/fleet-node.js, one
// process each, startRelay from dist with `redis`), simulated Edges (lib/fleet-edges.js: own
// P-256 key each, registered on the nodes in turn, answering session requests), then:
// - memory per idle connection: each node's heap and RSS after a GC, before and after its Edges
//   registered, divided by its connections; against one relay without Redis holding as many Edges;
// - Redis commands at rest over --rest-ms (sent by the nodes, and executed by the server);
// - --frontends Frontends, 10 at a time, each to a random Edge through a random node: time from
//   its hello to the Edge's first frame, same node (Edge registered there) vs cross node;
// - Redis commands per session set-up.
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
  const n = child('fleet-node.js', cfg, ['--expose-gc']);
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
    for (let i = 0; i < nodeCount; i++) nodes.push(await startNode({ redis: redis.url, nodeId: `n${i + 1}` }));
    const single = await startNode({});
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
    const sent0 = (await Promise.all(nodes.map(stats))).reduce((a, s) => a + s.relay.fleet.redisCommands, 0);
    const server0 = await serverCommands();
    const t0 = performance.now();
    await sleep(restMs);
    const seconds = (performance.now() - t0) / 1000;
    const sent1 = (await Promise.all(nodes.map(stats))).reduce((a, s) => a + s.relay.fleet.redisCommands, 0);
    const server1 = await serverCommands();
    out.redisAtRest = {
      seconds: round(seconds, 1),
      sentPerSecond: round((sent1 - sent0) / seconds, 1),
      sentPerSecondPerEdge: round((sent1 - sent0) / seconds / edges, 3),
      executedPerSecond: round((server1 - server0 - 2) / seconds, 1),
    };

    // Frontends at random: same node vs cross node, 10 at a time.
    const { tokens } = await sim.ask({ t: 'tokens', n: frontendCount });
    const same = [];
    const cross = [];
    let failed = 0;
    let k = 0;
    const sentBefore = sent1;
    const tF = performance.now();
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        while (k < tokens.length) {
          const t = tokens[k++];
          const node = Math.floor(Math.random() * nodeCount);
          try {
            const ms = await frontend(nodes[node].url, t.edgeId, t.token);
            (node === t.home ? same : cross).push(ms);
          } catch {
            failed++;
          }
        }
      }),
    );
    const fSeconds = (performance.now() - tF) / 1000;
    const sent2 = (await Promise.all(nodes.map(stats))).reduce((a, s) => a + s.relay.fleet.redisCommands, 0);
    const restRate = (sent1 - sent0) / seconds;
    out.routing = {
      sameNode: { n: same.length, medianMs: round(quantile(same, 0.5)), p99Ms: round(quantile(same, 0.99)) },
      crossNode: { n: cross.length, medianMs: round(quantile(cross, 0.5)), p99Ms: round(quantile(cross, 0.99)) },
      crossOverSameMedian: round(quantile(cross, 0.5) / quantile(same, 0.5)),
      failed,
    };
    out.redisPerSession = {
      all: round((sent2 - sentBefore - restRate * fSeconds) / (same.length + cross.length), 1),
      note: 'commands sent by the nodes during the Frontend phase, minus the at-rest rate, per session (same- and cross-node mixed)',
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
