/**
 * Issue 20, defect 4: a peer that accepts TCP and never answers (a hung server, a middlebox) must
 * not hold a connection attempt forever. Every connector gives up after its timeout (and at once
 * on abort), `FrontendSync` retries and syncs once the peer answers, `stop()` resolves while
 * connecting; the encrypted channel's handshake gives up too. Also a half-open direct connection
 * (the proxy stops forwarding without closing): the Frontend notices and reconnects. Real
 * WebSockets on loopback, the faults from a TCP proxy (fixtures/tcp-proxy.ts).
 */
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { MemoryAdapter, openStore } from '@cse/core';
import { SecureFrontend } from '@cse/sync';
import type { Transport } from '@cse/sync';
import { nodeRelayConnector, nodeWebSocketConnector, serveEdge } from '@cse/sync/node';
import { tcpProxy } from './fixtures/tcp-proxy.js';
import { randomFrontendId } from './fixtures/relay-signer.js';
import { frontendOn, memoryEdge, until } from './helpers.js';
import { pairedFrontend, secureMemoryEdge } from './secure-helpers.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** The error a promise rejects with (fails the test if it resolves). */
async function rejection(p: Promise<unknown>): Promise<{ code?: string; reason?: unknown }> {
  try {
    const t = (await p) as Transport;
    t.close();
  } catch (e) {
    const err = e as { code?: string; details?: { reason?: unknown } };
    return { code: err.code, reason: err.details?.reason };
  }
  throw new Error('expected a rejection');
}

async function servedEdge(): Promise<{ edge: ReturnType<typeof memoryEdge>; url: string; port: number }> {
  const edge = memoryEdge();
  const server = await serveEdge(edge.sync);
  cleanup.push(async () => {
    await edge.sync.close();
    await server.close();
  });
  return { edge, url: server.url, port: server.port };
}

describe('a peer that accepts TCP and never answers', () => {
  it('nodeWebSocketConnector gives up after its timeout and on abort, and lets the socket go', async () => {
    const { port } = await servedEdge();
    const proxy = await tcpProxy(port);
    cleanup.push(() => proxy.close());
    proxy.blackhole();
    const connect = nodeWebSocketConnector(proxy.url, { timeoutMs: 200 });
    expect(await rejection(connect())).toEqual({ code: 'BACKEND', reason: 'timeout' });
    await until(() => proxy.open === 0, 'the given-up socket to be closed');
    // The abort, and the connection once the peer answers, through a connector whose timeout
    // cannot end the attempt first on a loaded machine (200 ms did, under a CPU hog).
    const patient = nodeWebSocketConnector(proxy.url, { timeoutMs: 60_000 });
    const ac = new AbortController();
    const attempt = patient({ signal: ac.signal });
    await until(() => proxy.accepted === 2, 'the second attempt to reach the proxy');
    ac.abort();
    expect(await rejection(attempt)).toEqual({ code: 'CLOSED', reason: 'aborted' });
    await until(() => proxy.open === 0, 'the aborted socket to be closed');
    // A connector works once the peer answers.
    proxy.restore();
    const t = await patient();
    t.close();
  });

  it('FrontendSync gives the attempt up, retries, and syncs once the peer answers; stop() resolves while connecting', async () => {
    const { edge, port } = await servedEdge();
    await edge.triangular.saveObserved('pump', 'p1', { rpm: 1 });
    const proxy = await tcpProxy(port);
    cleanup.push(() => proxy.close());
    proxy.blackhole();
    const fe = frontendOn(openStore(new MemoryAdapter()), nodeWebSocketConnector(proxy.url, { timeoutMs: 150 }));
    cleanup.push(() => fe.stop());
    await fe.start();
    await until(() => proxy.accepted >= 3, 'attempts given up and retried');
    expect(fe.status).not.toBe('live');
    proxy.restore();
    await fe.settled();
    expect((await fe.store.get('pump_observed', 'p1'))?.rpm).toBe(1);
    await fe.saveDesired('pump', 'p1', { rpm: 2 });
    await fe.settled();
    expect((await edge.triangular.loadDesired('pump', 'p1'))?.rpm).toBe(2);

    // stop() while an attempt hangs on a silent peer.
    const hung = frontendOn(openStore(new MemoryAdapter()), nodeWebSocketConnector(proxy.url, { timeoutMs: 150 }));
    proxy.blackhole();
    const before = proxy.accepted;
    await hung.start();
    await until(() => proxy.accepted > before, 'the hung attempt to reach the proxy');
    await hung.stop();
    expect(hung.status).toBe('stopped');
  });

  it('stop() and reconnect() abort an attempt that hangs on a silent peer, whatever the timeout', async () => {
    const { edge, port } = await servedEdge();
    await edge.triangular.saveObserved('pump', 'p1', { rpm: 1 });
    const proxy = await tcpProxy(port);
    cleanup.push(() => proxy.close());
    proxy.blackhole();
    // A timeout far beyond the test's: only the abort can end these attempts.
    const fe = frontendOn(openStore(new MemoryAdapter()), nodeWebSocketConnector(proxy.url, { timeoutMs: 3_600_000 }));
    cleanup.push(() => fe.stop());
    await fe.start();
    await until(() => proxy.accepted >= 1, 'the first attempt to reach the proxy');
    expect(fe.status).toBe('connecting');
    // reconnect() gives the hung attempt up and tries again at once.
    fe.reconnect();
    await until(() => proxy.accepted >= 2, 'a new attempt after reconnect()');
    proxy.restore();
    fe.reconnect();
    await fe.settled();
    expect((await fe.store.get('pump_observed', 'p1'))?.rpm).toBe(1);
    proxy.blackhole();
    fe.reconnect();
    const before = proxy.accepted;
    await until(() => proxy.accepted > before, 'an attempt hanging again');
    await fe.stop();
    expect(fe.status).toBe('stopped');
  });

  it('relayConnector gives up on a relay that accepts TCP and never answers, and on abort', async () => {
    const silent = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((r) => silent.once('listening', r));
    cleanup.push(() => new Promise((r) => silent.close(r)));
    const proxy = await tcpProxy((silent.address() as AddressInfo).port);
    cleanup.push(() => proxy.close());
    proxy.blackhole();
    const connect = nodeRelayConnector({ url: proxy.url, edgeId: randomFrontendId(), credential: { ticket: 't' }, timeoutMs: 200 });
    expect(await rejection(connect())).toEqual({ code: 'BACKEND', reason: 'timeout' });
    const ac = new AbortController();
    const attempt = connect({ signal: ac.signal });
    ac.abort();
    expect(await rejection(attempt)).toEqual({ code: 'CLOSED', reason: 'aborted' });
    await until(() => proxy.open === 0, 'both sockets to be closed');
  });

  it("the encrypted channel's handshake gives up on an Edge that opens the socket and never answers, and on abort", async () => {
    const edge = await secureMemoryEdge();
    const { store } = await pairedFrontend(edge);
    const silent = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((r) => silent.once('listening', r));
    cleanup.push(() => new Promise((r) => silent.close(r)));
    const url = `ws://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    const fe = await SecureFrontend.open({ store, handshakeTimeoutMs: 200 });
    const errors: string[] = [];
    fe.onError((e) => errors.push(e.reason));
    const connect = fe.connector((access) => nodeWebSocketConnector(url)(access));
    expect(await rejection(connect())).toEqual({ code: 'PROTOCOL', reason: 'handshake' });
    expect(errors).toEqual(['handshake']);
    const ac = new AbortController();
    const attempt = connect({ signal: ac.signal });
    await until(() => silent.clients.size === 1, 'the socket to open');
    ac.abort();
    // Aborted while dialing or during the handshake: CLOSED either way, and not a channel failure.
    expect(await rejection(attempt)).toEqual({ code: 'CLOSED', reason: 'aborted' });
    expect(errors).toEqual(['handshake']);
    await until(() => silent.clients.size === 0, 'the aborted session to be closed');
  });
});

describe('a half-open direct connection', () => {
  it('the Frontend notices a link that stops forwarding without closing, reconnects, and syncs', async () => {
    const { edge, port } = await servedEdge();
    const proxy = await tcpProxy(port);
    cleanup.push(() => proxy.close());
    const fe = frontendOn(openStore(new MemoryAdapter()), nodeWebSocketConnector(proxy.url, { timeoutMs: 500 }), { heartbeatMs: 100, resultTimeoutMs: 1000 });
    cleanup.push(() => fe.stop());
    await fe.start();
    await fe.settled();
    proxy.blackhole();
    await until(() => fe.status !== 'live', 'the Frontend to give up the dead link');
    await fe.saveDesired('pump', 'p1', { rpm: 5 });
    await edge.triangular.saveObserved('pump', 'p2', { rpm: 6 });
    proxy.restore();
    await fe.settled();
    expect((await edge.triangular.loadDesired('pump', 'p1'))?.rpm).toBe(5);
    expect((await fe.store.get('pump_observed', 'p2'))?.rpm).toBe(6);
  });
});
