// S2: the relay with the end-to-end encrypted channel against a direct WebSocket without it,
// same workload, same process tree (Edge and replica in this process, the relay in a child
// process started with --expose-gc: lib/relay-process.js).
//   - throughput: initial sync of N documents into an empty replica (on SQLite synchronous=FULL
//     as in S1, and in memory, where the channel's share of the cost is largest), direct vs
//     through the relay + channel, alternating, the median of the runs: ratio relay ÷ direct
//     (goal ≥ 0.9, issue 26);
//   - commit-to-replica latency at a steady rate of single-change commits, the Edge in its own
//     process (lib/edge-child.js), direct/relay/relay/direct: median relay ÷ median direct (goal ≤ 1.3);
//   - relay CPU per MB forwarded: the relay process's CPU time (process.cpuUsage, user+system)
//     during the relay runs ÷ the bytes it forwarded (every frame both ways, counted at the
//     Frontend: what went through the relay);
//   - echo round trips of a small frame (no store): direct, through the relay, through the relay
//     with the channel: where the latency goes;
//   - upload: 1,000 Desired writes saved at once on a Frontend (replica on SQLite FULL) until
//     every result is back, direct and through the relay + channel (issue 26: several writes per
//     frame, one Edge commit per batch), alternating, the median of the runs;
//   - relay memory per connection: heap and RSS of the relay process (after a GC) with K idle
//     Frontend sessions open (each is two connections: the Frontend's and the Edge's data
//     connection) minus without them, ÷ 2K.
import { fork } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { MemoryAdapter, Registry, TriangularStore, openStore } from '@cse/core';
import { SqliteAdapter } from '@cse/adapter-sqlite';
import { EdgeSync, FrontendSync, SecureEdge, SecureFrontend, createRelayToken } from '@cse/sync';
import { nodeRelayConnector, nodeRelayDial, nodeRelayEdgeListener, nodeServeSecureRelay, nodeWebSocketConnector, serveEdge } from '@cse/sync/node';
import { COLLECTION, WORKER_TYPE, batch } from '../lib/docs.js';
import { quantile, startEdgeChild } from '../lib/edge-child.js';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function registry() {
  const r = new Registry();
  r.registerWorkerType(WORKER_TYPE, 'v1');
  return r;
}

/** The relay process: its URL and a stats() that reads CPU and memory from it. */
async function relayProcess() {
  const child = fork(fileURLToPath(new URL('../lib/relay-process.js', import.meta.url)), [], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ready = await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`the relay process exited (${code})`)));
  });
  let next = 1;
  const stats = () =>
    new Promise((resolve) => {
      const id = next++;
      const on = (m) => {
        if (m.t === 'stats' && m.id === id) {
          child.off('message', on);
          resolve(m);
        }
      };
      child.on('message', on);
      child.send({ t: 'stats', id });
    });
  return { url: ready.url, stats, pid: child.pid, kill: () => child.kill('SIGKILL') };
}

/** Counts the bytes of every frame both ways on the Frontend's raw connection. */
function counting(open, counter) {
  return async (...a) => {
    const inner = await open(...a);
    const outer = {
      send(frame) {
        counter.bytes += Buffer.byteLength(frame);
        inner.send(frame);
      },
      close: (reason) => inner.close(reason),
      get buffered() {
        return inner.buffered;
      },
      get onmessage() {
        return outer._m;
      },
      set onmessage(f) {
        outer._m = f;
        inner.onmessage = f && ((frame) => {
          counter.bytes += Buffer.byteLength(frame);
          f(frame);
        });
      },
      get onclose() {
        return inner.onclose;
      },
      set onclose(f) {
        inner.onclose = f;
      },
    };
    return outer;
  };
}

async function untilLive(fe, docs) {
  while (!(fe.status === 'live' && fe.progress.applied >= docs)) await sleep(5);
}

function replicaStore(env, kind, tag) {
  return openStore(kind === 'sqlite' ? new SqliteAdapter({ path: join(env.dir, `relay-replica-${tag}.db`), synchronous: 'FULL' }) : new MemoryAdapter());
}

/** One initial sync, direct: EdgeSync on a loopback WebSocket, no channel. */
async function direct(env, edge, docs, kind, tag) {
  const sync = new EdgeSync({ store: edge.store, registry: edge.registry, triangular: edge.triangular });
  const server = await serveEdge(sync);
  const counter = { bytes: 0 };
  const store = replicaStore(env, kind, tag);
  const fe = new FrontendSync({ store, registry: registry(), connect: counting(nodeWebSocketConnector(server.url), counter), subscription: { collections: [COLLECTION] } });
  const t0 = performance.now();
  await fe.start();
  await untilLive(fe, docs);
  const seconds = (performance.now() - t0) / 1000;
  await fe.stop();
  await store.close();
  await sync.close();
  await server.close();
  return { seconds, docsPerSec: docs / seconds, bytes: counter.bytes };
}

/** One initial sync through the relay behind the channel (pairing first, untimed). */
async function viaRelay(env, edge, served, relay, docs, kind, tag) {
  const counter = { bytes: 0 };
  const store = replicaStore(env, kind, tag);
  const secure = await SecureFrontend.open({ store });
  await secure.pair((await served.createPairingCode()).code, nodeRelayDial(relay.url));
  const fe = new FrontendSync({ store, registry: registry(), connect: secure.connector(counting(nodeRelayDial(relay.url), counter)), subscription: { collections: [COLLECTION] } });
  const before = await relay.stats();
  const t0 = performance.now();
  await fe.start();
  await untilLive(fe, docs);
  const seconds = (performance.now() - t0) / 1000;
  const after = await relay.stats();
  await fe.stop();
  await store.close();
  const cpuSec = (after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system) / 1e6;
  return { seconds, docsPerSec: docs / seconds, bytes: counter.bytes, relayCpuSec: cpuSec };
}

/** 1,000 (`writes`) Desired writes saved together on a Frontend until all their results are back; `connect` reaches the Edge. */
async function uploadOnce(env, connect, writes, tag) {
  const store = openStore(new SqliteAdapter({ path: join(env.dir, `relay-upload-${tag}.db`), synchronous: 'FULL' }));
  const fe = new FrontendSync({ store, registry: registry(), connect: await connect(store), subscription: { workerTypes: [WORKER_TYPE] } });
  try {
    await fe.start();
    while (fe.status !== 'live') await sleep(5);
    const t0 = performance.now();
    await Promise.all(Array.from({ length: writes }, (_, i) => fe.saveDesired(WORKER_TYPE, `u-${tag}-${i}`, { target: i })));
    while (fe.pending > 0) await sleep(1);
    return (performance.now() - t0) / 1000;
  } finally {
    await fe.stop();
    await store.close();
  }
}

/** Upload direct and through the relay + channel, alternating after a warm-up of each: median seconds and writes/s. */
async function uploads(env, edge, secure, relay, writes, runs) {
  const sync = new EdgeSync({ store: edge.store, registry: edge.registry, triangular: edge.triangular });
  const server = await serveEdge(sync);
  const served = await nodeServeSecureRelay({ url: relay.url, secure, edge: sync });
  const sides = {
    direct: async () => nodeWebSocketConnector(server.url),
    relay: async (store) => {
      const fe = await SecureFrontend.open({ store });
      await fe.pair((await served.createPairingCode()).code, nodeRelayDial(relay.url));
      return fe.connector(nodeRelayDial(relay.url));
    },
  };
  const times = { direct: [], relay: [] };
  try {
    for (let run = -1; run < runs; run++) {
      for (const side of run % 2 === 0 ? ['direct', 'relay'] : ['relay', 'direct']) {
        const s = await uploadOnce(env, sides[side], writes, `${side}-${run}`);
        if (run >= 0) times[side].push(s);
      }
    }
  } finally {
    await served.close();
    await sync.close();
    await server.close();
  }
  const row = (xs) => ({ seconds: median(xs), writesPerSec: writes / median(xs) });
  return { writes, runs, direct: row(times.direct), relay: row(times.relay), ratio: median(times.direct) / median(times.relay) };
}

/** Commit-to-replica latency, the Edge in its own process (lib/edge-child.js), direct or through the relay. */
async function latency(env, tag, mode, relay, rate, seconds) {
  const path = join(env.dir, `relay-latency-${tag}.db`);
  const edge = await startEdgeChild({ path, rate, seconds, mode, relayUrl: relay.url });
  const store = openStore(new SqliteAdapter({ path: join(env.dir, `relay-latency-${tag}-replica.db`), synchronous: 'FULL' }));
  let connect;
  if (mode === 'direct') connect = nodeWebSocketConnector(edge.ready.url);
  else {
    const secure = await SecureFrontend.open({ store });
    await secure.pair(edge.ready.code, nodeRelayDial(relay.url));
    connect = secure.connector(nodeRelayDial(relay.url));
  }
  const fe = new FrontendSync({ store, registry: registry(), connect, subscription: { collections: [COLLECTION] } });
  await fe.start();
  await untilLive(fe, 0);
  const { done, seen, latencies } = await edge.follow(store);
  await fe.stop();
  await store.close();
  edge.kill();
  return { mode, targetRate: rate, achievedRate: done.achievedRate, changes: done.total, seen, medianMs: quantile(latencies, 0.5), p99Ms: quantile(latencies, 0.99), latencies };
}

/** Median round trip of a 300-byte frame echoed by the Edge side, `n` times one after another. */
async function rtt(t, n) {
  const xs = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await new Promise((resolve) => {
      t.onmessage = () => resolve();
      t.send('x'.repeat(300));
    });
    xs.push(performance.now() - t0);
  }
  t.close();
  return median(xs);
}

/**
 * Where the latency goes, without the store: echo round trips direct (WebSocket), through the
 * relay process without the channel, and through it with the channel.
 */
async function roundTrips(relay, secure, n) {
  const echo = (t) => {
    t.onmessage = (f) => t.send(f);
  };
  const store = openStore(new MemoryAdapter());
  const server = await serveEdge({ accept: echo });
  const direct = await rtt(await nodeWebSocketConnector(server.url)(), n);
  await server.close();
  let listener = await nodeRelayEdgeListener({ url: relay.url, signer: secure.identity, onSession: echo });
  while (listener.status !== 'registered') await sleep(10);
  const token = await createRelayToken(secure.identity, { edgeId: secure.edgeId, frontendId: 'A'.repeat(43) });
  const plain = await rtt(await nodeRelayConnector({ url: relay.url, edgeId: secure.edgeId, credential: { token } })(), n);
  await listener.close();
  listener = await nodeRelayEdgeListener({ url: relay.url, signer: secure.identity, onSession: (t) => void secure.accept(t).then(({ transport }) => echo(transport), () => undefined) });
  while (listener.status !== 'registered') await sleep(10);
  const offer = await secure.createPairingCode();
  await listener.offerPairing(offer.relayTicket, 60_000);
  const fe = await SecureFrontend.open({ store });
  await fe.pair(offer.code, nodeRelayDial(relay.url));
  const channel = await rtt(await fe.connector(nodeRelayDial(relay.url))(), n);
  await listener.close();
  return { frames: n, directMs: direct, relayMs: plain, relayChannelMs: channel };
}

/** Relay memory with `k` idle sessions (2k connections) open, above none, per connection. */
async function memoryPerConnection(relay, secure, k) {
  const holders = [];
  const listener = await nodeRelayEdgeListener({ url: relay.url, signer: secure.identity, onSession: (t) => void holders.push(t) });
  while (listener.status !== 'registered') await sleep(10);
  const before = await relay.stats();
  const transports = [];
  for (let i = 0; i < k; i++) {
    const frontendId = Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(32))).toString('base64url');
    const token = await createRelayToken(secure.identity, { edgeId: secure.edgeId, frontendId });
    transports.push(await nodeRelayConnector({ url: relay.url, edgeId: secure.edgeId, credential: { token } })());
  }
  while (holders.length < k) await sleep(10);
  const after = await relay.stats();
  for (const t of transports) t.close();
  await listener.close();
  const connections = 2 * k;
  return {
    sessions: k,
    connections,
    heapPerConnectionKb: (after.memory.heapUsed - before.memory.heapUsed) / connections / 1024,
    rssPerConnectionKb: (after.memory.rss - before.memory.rss) / connections / 1024,
    relayConnections: after.relay.connections,
  };
}

export default {
  id: 'S2',
  title: 'relay: through a cse-relay process with the end-to-end encrypted channel vs a direct WebSocket without it (throughput, latency, relay CPU per MB, relay memory per connection)',
  async run(env, params) {
    const log = env.log ?? (() => undefined);
    const docs = params.relayDocs;
    const relay = await relayProcess();
    try {
      const edgeStore = openStore(new SqliteAdapter({ path: join(env.dir, 'relay-edge.db'), synchronous: 'FULL' }));
      const reg = registry();
      const edge = { store: edgeStore, registry: reg, triangular: new TriangularStore(edgeStore, reg) };
      for (let i = 0; i < docs; i += 1000) {
        const writes = batch('doc-', i, Math.min(1000, docs - i)).map((body) => ({ collection: COLLECTION, id: body.id, kind: 'put', body }));
        const r = await edgeStore.adapter.commit({ writes, now: new Date().toISOString() });
        if (!r.ok) throw new Error('seeding failed');
      }
      const secure = await SecureEdge.open({ store: edgeStore });
      const out = { params: { docs, runs: params.relayRuns, rate: params.relayRate, seconds: params.relaySeconds, idleSessions: params.relayIdle }, throughput: [] };
      for (const kind of ['sqlite', 'memory']) {
        const sync = new EdgeSync({ store: edge.store, registry: edge.registry, triangular: edge.triangular });
        const served = await nodeServeSecureRelay({ url: relay.url, secure, edge: sync });
        const d = [];
        const r = [];
        // One warm-up of each, then alternating order so load from elsewhere hits both alike.
        for (let run = -1; run < params.relayRuns; run++) {
          const pair = run % 2 === 0 ? ['direct', 'relay'] : ['relay', 'direct'];
          for (const side of pair) {
            const tag = `${kind}-${run}-${side}`;
            const res = side === 'direct' ? await direct(env, edge, docs, kind, tag) : await viaRelay(env, edge, served, relay, docs, kind, tag);
            if (run >= 0) (side === 'direct' ? d : r).push(res);
          }
        }
        await served.close();
        await sync.close();
        const row = {
          replica: kind,
          docs,
          directDocsPerSec: median(d.map((x) => x.docsPerSec)),
          relayDocsPerSec: median(r.map((x) => x.docsPerSec)),
          directBytesPerChange: median(d.map((x) => x.bytes)) / docs,
          relayBytesPerChange: median(r.map((x) => x.bytes)) / docs,
          relayCpuSecPerMb: r.reduce((s, x) => s + x.relayCpuSec, 0) / (r.reduce((s, x) => s + x.bytes, 0) / 1e6),
        };
        row.ratio = row.relayDocsPerSec / row.directDocsPerSec;
        log(`S2 ${docs} docs, replica ${kind}: direct ${Math.round(row.directDocsPerSec)}/s, relay+channel ${Math.round(row.relayDocsPerSec)}/s (ratio ${row.ratio.toFixed(2)}), relay CPU ${(row.relayCpuSecPerMb * 1000).toFixed(1)} ms/MB`);
        out.throughput.push(row);
      }
      out.upload = await uploads(env, edge, secure, relay, params.uploadWrites ?? 1000, params.relayRuns);
      log(`S2 upload of ${out.upload.writes} Frontend writes: direct ${out.upload.direct.seconds.toFixed(2)} s (${Math.round(out.upload.direct.writesPerSec)}/s), relay+channel ${out.upload.relay.seconds.toFixed(2)} s (${Math.round(out.upload.relay.writesPerSec)}/s)`);
      // Direct, relay, relay, direct (ABBA), so a change of load during the runs hits both alike;
      // each side's figures are over all its changes.
      const runs = { direct: [], relay: [] };
      for (const [i, mode] of ['direct', 'relay', 'relay', 'direct'].entries()) runs[mode].push(await latency(env, `${mode}-${i}`, mode, relay, params.relayRate, params.relaySeconds));
      const merge = (xs) => {
        const lat = xs.flatMap((x) => x.latencies).sort((a, b) => a - b);
        const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
        return { targetRate: xs[0].targetRate, achievedRate: median(xs.map((x) => x.achievedRate)), changes: xs.reduce((n, x) => n + x.changes, 0), seen: xs.reduce((n, x) => n + x.seen, 0), medianMs: q(0.5), p99Ms: q(0.99) };
      };
      const ld = merge(runs.direct);
      const lr = merge(runs.relay);
      out.latency = { direct: ld, relay: lr, ratio: lr.medianMs / ld.medianMs };
      log(`S2 latency at ${params.relayRate}/s: direct median ${ld.medianMs.toFixed(2)} ms, relay+channel ${lr.medianMs.toFixed(2)} ms (ratio ${out.latency.ratio.toFixed(2)})`);
      out.roundTrips = await roundTrips(relay, secure, params.relayIdle * 2);
      log(`S2 echo round trips: direct ${out.roundTrips.directMs.toFixed(2)} ms, relay ${out.roundTrips.relayMs.toFixed(2)} ms, relay+channel ${out.roundTrips.relayChannelMs.toFixed(2)} ms`);
      out.memory = await memoryPerConnection(relay, secure, params.relayIdle);
      log(`S2 relay memory: ${out.memory.heapPerConnectionKb.toFixed(1)} KiB heap, ${out.memory.rssPerConnectionKb.toFixed(1)} KiB RSS per connection (${out.memory.connections} connections)`);
      await edgeStore.close();
      return out;
    } finally {
      relay.kill();
    }
  },
};
