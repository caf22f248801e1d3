/**
 * The network faults of issue 20 as a property, on real WebSockets on loopback: an Edge serving
 * one Frontend directly and one through an in-process relay, with a black-holing TCP proxy
 * (fixtures/tcp-proxy.ts) on every hop: Frontend to Edge, Frontend to relay, Edge to relay (its
 * control connection and its sessions). At random moments a hop goes half-open (open links stop
 * forwarding without closing, new connections are accepted and never answered) or comes back,
 * while the Edge and both Frontends write. After quiescence (every hop restored): S1 (each
 * replica equals the Edge), every Desired write applied at most once, and each Frontend's last
 * write to a document applied or marked `conflict`. fast-check prints the seed and path of a
 * failure; replay with CSE_TRANSPORT_SEED / CSE_TRANSPORT_PATH (CSE_TRANSPORT_RUNS runs, default 5).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MemoryAdapter, openStore } from '@cse/core';
import { startRelay } from '@cse/relay';
import type { FrontendSync } from '@cse/sync';
import { createRelayToken } from '@cse/sync';
import { nodeRelayConnector, nodeRelayEdgeListener, nodeWebSocketConnector, serveEdge } from '@cse/sync/node';
import { newSigner, randomFrontendId } from './fixtures/relay-signer.js';
import { tcpProxy } from './fixtures/tcp-proxy.js';
import type { TcpProxy } from './fixtures/tcp-proxy.js';
import { edgeState, frontendOn, memoryEdge, replicaState, until } from './helpers.js';

const HOPS = ['direct', 'frontend-relay', 'edge-relay'] as const;
type Hop = (typeof HOPS)[number];

type Step =
  | { k: 'edge'; part: 'observed' | 'desired'; w: number }
  | { k: 'fe'; which: 0 | 1; w: number }
  | { k: 'hole'; hop: Hop }
  | { k: 'restore'; hop: Hop }
  | { k: 'wait'; ms: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ k: fc.constant('edge' as const), part: fc.constantFrom('observed' as const, 'desired' as const), w: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('fe' as const), which: fc.constantFrom(0 as const, 1 as const), w: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('hole' as const), hop: fc.constantFrom(...HOPS) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('restore' as const), hop: fc.constantFrom(...HOPS) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 400 }) }) },
);

const COLLECTIONS = ['pump_desired', 'pump_identity', 'pump_observed'];

async function scenario(steps: readonly Step[]): Promise<void> {
  const cleanup: (() => Promise<unknown> | unknown)[] = [];
  try {
    const edge = memoryEdge({ heartbeatMs: 200 });
    cleanup.push(() => edge.sync.close());
    // Count what really changed an Edge document: a write applied twice would show as two.
    const applied = new Map<string, number>();
    const saveDesired = edge.triangular.saveDesired.bind(edge.triangular);
    edge.triangular.saveDesired = async (...args) => {
      const r = await saveDesired(...args);
      const nonce = (args[2] as { nonce?: string }).nonce;
      if (r.changed && nonce !== undefined) applied.set(nonce, (applied.get(nonce) ?? 0) + 1);
      return r;
    };
    const server = await serveEdge(edge.sync);
    cleanup.push(() => server.close());
    const relay = await startRelay({});
    cleanup.push(() => relay.close());
    const proxies: Record<Hop, TcpProxy> = {
      direct: await tcpProxy(server.port),
      'frontend-relay': await tcpProxy(relay.port),
      'edge-relay': await tcpProxy(relay.port),
    };
    for (const p of Object.values(proxies)) cleanup.push(() => p.close());
    const signer = await newSigner();
    const listener = await nodeRelayEdgeListener({
      url: proxies['edge-relay'].url,
      signer,
      pingIntervalMs: 200,
      timeoutMs: 600,
      backoff: { min: 10, max: 100 },
      onSession: (t) => edge.sync.accept(t),
    });
    cleanup.push(() => listener.close());
    await listener.ready;
    const token = await createRelayToken(signer, { edgeId: listener.edgeId, frontendId: randomFrontendId() });
    const options = { subscription: { workerTypes: ['pump'] }, heartbeatMs: 200, resultTimeoutMs: 800, backoff: { min: 10, max: 100 } };
    const fes: FrontendSync[] = [
      frontendOn(openStore(new MemoryAdapter()), nodeWebSocketConnector(proxies.direct.url, { timeoutMs: 600 }), options),
      frontendOn(openStore(new MemoryAdapter()), nodeRelayConnector({ url: proxies['frontend-relay'].url, edgeId: listener.edgeId, credential: { token }, timeoutMs: 600 }), options),
    ];
    for (const fe of fes) {
      cleanup.push(() => fe.stop());
      await fe.start();
    }
    const lastWrite = [new Map<string, string>(), new Map<string, string>()];
    let n = 0;
    for (const st of steps) {
      switch (st.k) {
        case 'edge':
          if (st.part === 'observed') await edge.triangular.saveObserved('pump', `p${st.w}`, { v: n++ });
          else await edge.triangular.saveDesired('pump', `p${st.w}`, { edge: n++ });
          break;
        case 'fe': {
          const nonce = `fe${st.which}-${n++}`;
          await (fes[st.which] as FrontendSync).saveDesired('pump', `p${st.w}`, { nonce });
          lastWrite[st.which]?.set(`p${st.w}`, nonce);
          break;
        }
        case 'hole':
          proxies[st.hop].blackhole();
          break;
        case 'restore':
          proxies[st.hop].restore();
          break;
        case 'wait':
          await new Promise((r) => setTimeout(r, st.ms));
          break;
      }
    }
    // Quiescence: every hop answers again; the dead links must be noticed and replaced by themselves.
    for (const p of Object.values(proxies)) p.restore();
    for (const [i, fe] of fes.entries()) {
      const same = async (): Promise<boolean> => {
        if (fe.pending > 0 || fe.status !== 'live') return false;
        const e = await edgeState(edge.store, COLLECTIONS);
        const r = await replicaState(fe.store, COLLECTIONS, e);
        const strip = (m: Map<string, unknown>): string => JSON.stringify([...m].map(([k, v]) => [k, { ...(v as object), status: undefined }]).sort());
        return strip(e) === strip(r);
      };
      await until(same, () => `Frontend ${i} to converge (status ${fe.status}, pending ${fe.pending}, relay listener ${listener.status})`, 60_000);
    }
    for (const [nonce, times] of applied) expect(times, `write ${nonce}`).toBe(1);
    for (const [i, fe] of fes.entries()) {
      for (const [id, nonce] of lastWrite[i] ?? []) {
        const local = await fe.store.get('pump_desired', id);
        const ok = applied.has(nonce) || (local?._sync_status === 'conflict' && (local._conflict as { value: { nonce?: string } }).value.nonce === nonce);
        expect(ok, `Frontend ${i}'s last write ${nonce} to ${id}: neither applied nor marked conflict (local ${JSON.stringify(local)})`).toBe(true);
      }
    }
  } finally {
    for (const f of cleanup.reverse()) await f();
  }
}

const replay = process.env.CSE_TRANSPORT_SEED === undefined ? {} : { seed: Number(process.env.CSE_TRANSPORT_SEED), ...(process.env.CSE_TRANSPORT_PATH ? { path: process.env.CSE_TRANSPORT_PATH } : {}) };

describe('sync over half-open and silent hops (property)', () => {
  it('converges (S1) and applies every Desired write once or marks it conflict', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 5, maxLength: 20 }), async (steps) => scenario(steps)),
      { numRuns: Number(process.env.CSE_TRANSPORT_RUNS ?? 5), endOnFailure: true, ...replay },
    );
  }, 300_000);

  it('every hop black-holed with writes pending, then restored (regression)', async () => {
    await scenario([
      { k: 'fe', which: 0, w: 1 },
      { k: 'hole', hop: 'edge-relay' },
      { k: 'hole', hop: 'frontend-relay' },
      { k: 'hole', hop: 'direct' },
      { k: 'fe', which: 1, w: 1 },
      { k: 'edge', part: 'observed', w: 2 },
      { k: 'fe', which: 0, w: 2 },
      { k: 'wait', ms: 400 },
      { k: 'restore', hop: 'direct' },
      { k: 'edge', part: 'desired', w: 2 },
      { k: 'wait', ms: 100 },
    ]);
  }, 120_000);
});
