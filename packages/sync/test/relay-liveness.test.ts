/**
 * Issue 20, defect 5: the Edge's control connection to the relay needs a liveness check. When the
 * relay's host vanishes without a FIN or RST (here: a TCP proxy that stops forwarding without
 * closing) the Edge must stop reporting `registered`, drop the dead link and register again once a
 * relay answers at the same address, so Frontends sync again. Also the other relay hops going
 * half-open (Frontend to relay), `RelayEdge.ready`, and a revoked Frontend told so (`REVOKED`).
 * Once with an in-process relay, once with a real relay process SIGKILLed behind the black-holed
 * proxy and a new one answering at the proxy's address. Outcomes are asserted, not timings.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryAdapter, openStore } from '@cse/core';
import { startRelay } from '@cse/relay';
import { WebSocket } from 'ws';
import type { RelayEdge, RelayStatus, WebSocketConstructor } from '@cse/sync';
import { SecureEdge, SecureFrontend, createRelayToken, relayEdgeListener } from '@cse/sync';
import { nodeRelayConnector, nodeRelayDial, nodeRelayEdgeListener, nodeServeSecureRelay } from '@cse/sync/node';
import { Proc } from './fixtures/proc.js';
import { newSigner, randomFrontendId } from './fixtures/relay-signer.js';
import { tcpProxy } from './fixtures/tcp-proxy.js';
import type { Edge } from './helpers.js';
import { frontendOn, memoryEdge, until } from './helpers.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** The `ws` client without its ping API, as a browser's WebSocket is: the listener falls back to a no-op request. */
class NoPingWebSocket extends WebSocket {
  override ping = undefined as unknown as WebSocket['ping'];
}

/** An Edge registered at `url` with a fast liveness check; `log` records every status. */
async function listen(edge: Edge, url: string, Impl: typeof WebSocket = WebSocket): Promise<{ listener: RelayEdge; log: string[]; token: string }> {
  const signer = await newSigner();
  const log: string[] = [];
  const listener = await relayEdgeListener({
    url,
    signer,
    pingIntervalMs: 100,
    timeoutMs: 1000,
    backoff: { min: 10, max: 100 },
    onSession: (t) => edge.sync.accept(t),
    WebSocket: Impl as unknown as WebSocketConstructor,
  });
  cleanup.push(() => listener.close());
  listener.onStatus = (s: RelayStatus, detail) => log.push(`${s}${detail === undefined ? '' : `: ${detail}`}`);
  await until(() => listener.status === 'registered', 'the Edge to register');
  const token = await createRelayToken(signer, { edgeId: listener.edgeId, frontendId: randomFrontendId() });
  return { listener, log, token };
}

/** After the link died: the Edge stops saying `registered`, then registers again. */
async function reRegistered(listener: RelayEdge, log: string[]): Promise<void> {
  await until(() => log.some((s) => s.startsWith('disconnected')), () => `the Edge to notice the dead link (statuses: ${log.join(', ')})`);
  const lost = log.findIndex((s) => s.startsWith('disconnected'));
  await until(() => log.slice(lost).includes('registered') && listener.status === 'registered', () => `the Edge to register again (statuses: ${log.join(', ')})`);
}

describe('liveness of the relay links', () => {
  it('ready resolves at the registration, and rejects when closed first', async () => {
    const relay = await startRelay({});
    cleanup.push(() => relay.close());
    const signer = await newSigner();
    const listener = await nodeRelayEdgeListener({ url: relay.url, signer, onSession: (t) => memoryEdge().sync.accept(t) });
    cleanup.push(() => listener.close());
    await listener.ready;
    expect(listener.status).toBe('registered');
    // A Frontend connecting right after `ready` is admitted (no 4404).
    const token = await createRelayToken(signer, { edgeId: listener.edgeId, frontendId: randomFrontendId() });
    const t = await nodeRelayConnector({ url: relay.url, edgeId: listener.edgeId, credential: { token } })();
    t.close();
    const proxy = await tcpProxy(relay.port);
    cleanup.push(() => proxy.close());
    proxy.blackhole();
    const never = await nodeRelayEdgeListener({ url: proxy.url, signer: await newSigner(), onSession: () => undefined });
    await never.close();
    await expect(never.ready).rejects.toMatchObject({ code: 'CLOSED' });
  });

  it.each([
    ['WebSocket pings', WebSocket],
    ['no-op requests (no ping API)', NoPingWebSocket],
  ])('the Edge drops a control connection that went half-open, registers again, and Frontends sync (%s)', async (_name, Impl) => {
    const relay = await startRelay({});
    cleanup.push(() => relay.close());
    const proxy = await tcpProxy(relay.port);
    cleanup.push(() => proxy.close());
    const edge = memoryEdge();
    const { listener, log, token } = await listen(edge, proxy.url, Impl);
    const fe = frontendOn(openStore(new MemoryAdapter()), nodeRelayConnector({ url: relay.url, edgeId: listener.edgeId, credential: { token }, timeoutMs: 1000 }), {
      subscription: { workerTypes: ['pump'] },
    });
    cleanup.push(() => fe.stop());
    await fe.start();
    await fe.settled();

    proxy.blackhole();
    await until(() => listener.status !== 'registered', () => `the Edge to stop saying registered (statuses: ${log.join(', ')})`);
    await fe.saveDesired('pump', 'p1', { rpm: 3 });
    proxy.restore();
    await reRegistered(listener, log);
    await fe.settled();
    expect((await edge.triangular.loadDesired('pump', 'p1'))?.rpm).toBe(3);
    await edge.triangular.saveObserved('pump', 'p2', { rpm: 4 });
    await until(async () => (await fe.store.get('pump_observed', 'p2'))?.rpm === 4, 'the Edge change to reach the Frontend');
    expect(relay.stats().edges).toBe(1);
  });

  it('a Frontend whose link to the relay goes half-open reconnects and syncs', async () => {
    const relay = await startRelay({});
    cleanup.push(() => relay.close());
    const edge = memoryEdge();
    const { listener, token } = await listen(edge, relay.url);
    const proxy = await tcpProxy(relay.port);
    cleanup.push(() => proxy.close());
    const fe = frontendOn(openStore(new MemoryAdapter()), nodeRelayConnector({ url: proxy.url, edgeId: listener.edgeId, credential: { token }, timeoutMs: 1000 }), {
      subscription: { workerTypes: ['pump'] },
      heartbeatMs: 100,
      resultTimeoutMs: 1000,
    });
    cleanup.push(() => fe.stop());
    await fe.start();
    await fe.settled();
    proxy.blackhole();
    await until(() => fe.status !== 'live', 'the Frontend to give up the dead link');
    await fe.saveDesired('pump', 'p1', { rpm: 8 });
    proxy.restore();
    await fe.settled();
    expect((await edge.triangular.loadDesired('pump', 'p1'))?.rpm).toBe(8);
  });

  it('a relay process SIGKILLed behind a black-holed link, a new one at the same address: the Edge re-registers and the Frontend syncs', { timeout: 120_000 }, async () => {
    const startRelayProcess = async (): Promise<{ proc: Proc; port: number }> => {
      const proc = new Proc('relay', 'relay-process.ts', { port: 0 });
      cleanup.push(() => proc.kill());
      const ready = await proc.next((m) => m.t === 'ready', 'relay ready');
      return { proc, port: ready.port as number };
    };
    const first = await startRelayProcess();
    const proxy = await tcpProxy(first.port);
    cleanup.push(() => proxy.close());
    // The encrypted channel end to end, as deployed: pairing, sessions and the control link all through the proxy.
    const edge = memoryEdge();
    const secure = await SecureEdge.open({ store: edge.store });
    const served = await nodeServeSecureRelay({ url: proxy.url, secure, edge: edge.sync, pingIntervalMs: 300, timeoutMs: 1000, backoff: { min: 10, max: 100 } });
    cleanup.push(() => served.close());
    const log: string[] = [];
    served.relay.onStatus = (s, detail) => log.push(`${s}${detail === undefined ? '' : `: ${detail}`}`);
    await served.relay.ready;
    const store = openStore(new MemoryAdapter());
    const channel = await SecureFrontend.open({ store });
    await channel.pair((await served.createPairingCode()).code, nodeRelayDial(proxy.url));
    const fe = frontendOn(store, channel.connector(nodeRelayDial(proxy.url, { timeoutMs: 1000 })), { subscription: { workerTypes: ['pump'] }, heartbeatMs: 200, resultTimeoutMs: 1000 });
    cleanup.push(() => fe.stop());
    await edge.triangular.saveObserved('pump', 'p1', { rpm: 1 });
    await fe.start();
    await fe.settled();

    // The relay's host vanishes: nothing reaches the Edge, not even the RST of the killed process.
    proxy.blackhole();
    await first.proc.kill();
    await fe.saveDesired('pump', 'p1', { rpm: 2 });
    const second = await startRelayProcess();
    proxy.restore(second.port);
    await reRegistered(served.relay, log);
    await fe.settled();
    expect((await edge.triangular.loadDesired('pump', 'p1'))?.rpm).toBe(2);
    await edge.triangular.saveObserved('pump', 'p3', { rpm: 3 });
    await until(async () => (await store.get('pump_observed', 'p3'))?.rpm === 3, 'the Edge change to reach the Frontend through the new relay');
  });
});

describe('a revoked Frontend is told so', () => {
  it('the relay refusal (4403) reaches the connector as REVOKED and SecureFrontend.onError as reason revoked', async () => {
    const relay = await startRelay({});
    cleanup.push(() => relay.close());
    const edge = memoryEdge();
    const secure = await SecureEdge.open({ store: edge.store });
    const served = await nodeServeSecureRelay({ url: relay.url, secure, edge: edge.sync });
    cleanup.push(() => served.close());
    await served.relay.ready;
    const channel = await SecureFrontend.open({ store: openStore(new MemoryAdapter()) });
    await channel.pair((await served.createPairingCode()).code, nodeRelayDial(relay.url));
    const seen: string[] = [];
    channel.onError((e) => seen.push(`${e.code}/${e.reason}`));
    const connect = channel.connector(nodeRelayDial(relay.url));
    (await connect()).close();
    await secure.revoke(channel.frontendId);
    // The relay learns it through the control connection: wait for its refusal.
    await until(async () => {
      try {
        (await connect()).close();
        return false;
      } catch (e) {
        const err = e as { code?: string; message?: string };
        return err.code === 'REVOKED' && err.message?.startsWith('relay:') === true;
      }
    }, 'the relay to refuse the revoked Frontend');
    expect(seen.at(-1)).toBe('REVOKED/revoked');
    expect(channel.lastError?.code).toBe('REVOKED');
  });
});
