// Scale: 10 Edges and 100 Frontends (10 per Edge) through one relay process on loopback, all
// converging, with a burst of writes on every Edge while all follow. The relay's memory per idle
// connection and per active stream comes from its stats (after a GC) and is printed: a figure
// for the README, not a timed assertion.
import { MemoryAdapter, openStore } from '@cse/core';
import type { FrontendSync, RelayEdge } from '@cse/sync';
import { createRelayToken } from '@cse/sync';
import { nodeRelayConnector, nodeRelayEdgeListener } from '@cse/sync/node';
import { describe, expect, it } from 'vitest';
import { cleanup } from './fixtures/relay-cleanup.js';
import type { Edge } from './helpers.js';
import { edgeState, frontendOn, memoryEdge, replicaState, until } from './helpers.js';
import { Proc, sleep } from './fixtures/proc.js';
import { newSigner, randomFrontendId } from './fixtures/relay-signer.js';


const EDGES = 10;
const PER_EDGE = 10;
const PUMP = ['pump_desired', 'pump_identity', 'pump_observed'];

interface Mem {
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  rss: number;
}

describe('relay scale', () => {
  it('10 Edges and 100 Frontends through one relay process all converge', { timeout: 180_000 }, async () => {
    const relay = new Proc('relay', 'relay-process.ts', { port: 0 }, ['--expose-gc']);
    cleanup.push(() => relay.kill());
    const { url } = (await relay.next((m) => m.t === 'ready', 'relay ready')) as { url: string };
    const stats = async (): Promise<{ connections: number; sessions: number; bufferedBytes: number; memory: Mem }> => (await relay.request({ t: 'stats' }, 'stats')) as never;
    const base = await stats();

    const edges: { edge: Edge; listener: RelayEdge; token: () => Promise<string> }[] = [];
    for (let i = 0; i < EDGES; i++) {
      const edge = memoryEdge();
      for (let k = 0; k < 100; k++) await edge.triangular.saveObserved('pump', `p${k}`, { edge: i, k, text: 'x'.repeat(k) });
      const signer = await newSigner();
      const listener = await nodeRelayEdgeListener({ url, signer, onSession: (t) => edge.sync.accept(t) });
      cleanup.push(async () => {
        await listener.close();
        await edge.sync.close();
      });
      edges.push({ edge, listener, token: () => createRelayToken(signer, { edgeId: listener.edgeId, frontendId: randomFrontendId() }) });
    }
    await until(() => edges.every((e) => e.listener.status === 'registered'), 'all edges registered');

    const fronts: { fe: FrontendSync; at: number }[] = [];
    for (const [at, e] of edges.entries()) {
      for (let j = 0; j < PER_EDGE; j++) {
        const fe = frontendOn(openStore(new MemoryAdapter()), nodeRelayConnector({ url, edgeId: e.listener.edgeId, credential: { token: await e.token() } }), { subscription: { workerTypes: ['pump'] } });
        cleanup.push(() => fe.stop());
        fronts.push({ fe, at });
      }
    }
    await Promise.all(fronts.map((f) => f.fe.start()));
    await Promise.all(fronts.map((f) => f.fe.settled()));
    const idle = await stats();
    expect(idle).toMatchObject({ connections: EDGES + 2 * EDGES * PER_EDGE, sessions: EDGES * PER_EDGE });

    // A burst on every Edge, and Desired writes from one Frontend per Edge, while all follow.
    const peak: Mem = { heapUsed: 0, external: 0, arrayBuffers: 0, rss: 0 };
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const s = await stats();
        for (const k of Object.keys(peak) as (keyof Mem)[]) peak[k] = Math.max(peak[k], s.memory[k]);
        await sleep(50);
      }
    })();
    await Promise.all(
      edges.map(async (e, i) => {
        for (let n = 0; n < 200; n++) await e.edge.triangular.saveObserved('pump', `p${n % 100}`, { edge: i, n, text: 'y'.repeat(n) });
      }),
    );
    await Promise.all(fronts.filter((_, k) => k % PER_EDGE === 0).map((f, i) => f.fe.saveDesired('pump', `p${i}`, { rpm: i })));
    await Promise.all(fronts.map((f) => f.fe.settled()));
    sampling = false;
    await sampler;

    const same = (m: Map<string, unknown>): string => JSON.stringify([...m].map(([k, v]) => [k, { ...(v as object), status: undefined }]).sort());
    for (const [n, { fe, at }] of fronts.entries()) {
      const want = await edgeState((edges[at] as (typeof edges)[number]).edge.store, PUMP);
      await until(async () => same(await replicaState(fe.store, PUMP, want)) === same(want), `replica ${n} = its Edge`);
    }
    const after = await stats();
    const kib = (n: number): string => `${(n / 1024).toFixed(1)} KiB`;
    const conns = idle.connections;
    console.log(
      [
        `relay memory, ${EDGES} edges + ${EDGES * PER_EDGE} frontends (${conns} connections):`,
        `base heap ${kib(base.memory.heapUsed)}, rss ${kib(base.memory.rss)}`,
        `per idle connection: heap ${kib((idle.memory.heapUsed - base.memory.heapUsed) / conns)}, heap+external ${kib((idle.memory.heapUsed + idle.memory.external - base.memory.heapUsed - base.memory.external) / conns)}, rss ${kib((idle.memory.rss - base.memory.rss) / conns)}`,
        `per active stream (peak during the burst, over idle): heap+external ${kib((peak.heapUsed + peak.external - idle.memory.heapUsed - idle.memory.external) / (EDGES * PER_EDGE))}, rss ${kib((peak.rss - idle.memory.rss) / (EDGES * PER_EDGE))}`,
        `after: buffered ${after.bufferedBytes} B`,
      ].join('\n  '),
    );
  });
});
