// The relay's authentication, end to end: a relay on loopback (startRelay), the Edge and the
// Frontend through the client transports of @cse/sync over real WebSockets. The plain sync
// protocol runs over the relay here (the encrypted channel is tested in its own files).
import { createRelayToken, edgeIdOf } from '@cse/sync';
import type { RelayEdge, Transport } from '@cse/sync';
import { nodeRelayConnector, nodeRelayEdgeListener } from '@cse/sync/node';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { describe, expect, it } from 'vitest';
import { cleanup, relay } from './fixtures/relay-cleanup.js';
import { frontendOn, memoryEdge, until } from './helpers.js';
import { newSigner, randomFrontendId } from './fixtures/relay-signer.js';
import { MemoryAdapter, isCseError, openStore } from '@cse/core';


/** An Edge that echoes every frame of every session, and remembers the sessions it got. */
async function echoEdge(url: string, signer?: Awaited<ReturnType<typeof newSigner>>) {
  const s = signer ?? (await newSigner());
  const sessions: { t: Transport; frontendId?: string; pairing: boolean; closed?: string }[] = [];
  const listener = await nodeRelayEdgeListener({
    url,
    signer: s,
    backoff: { min: 20, max: 200 },
    onSession(t, info) {
      const rec: (typeof sessions)[number] = { t, ...info };
      sessions.push(rec);
      t.onmessage = (f) => t.send(f);
      t.onclose = (reason) => {
        rec.closed = reason;
      };
    },
  });
  cleanup.push(() => listener.close());
  await until(() => listener.status === 'registered', 'edge registered');
  return { listener, signer: s, sessions };
}

async function refusal(p: Promise<Transport>): Promise<{ code: string; closeCode: unknown; reason: unknown }> {
  try {
    const t = await p;
    t.close();
  } catch (e) {
    if (isCseError(e)) return { code: e.code, closeCode: e.details.closeCode, reason: e.details.reason };
    throw e;
  }
  throw new Error('connected, but should have been refused');
}

async function roundTrip(t: Transport, text: string): Promise<string> {
  const got = new Promise<string>((resolve) => {
    t.onmessage = resolve;
  });
  t.send(text);
  return got;
}

describe('relay authentication', () => {
  it('registers an Edge under the hash of its key, and refuses a bad signature', async () => {
    const r = await relay();
    const { listener, signer } = await echoEdge(r.url);
    expect(listener.edgeId).toBe(await edgeIdOf(signer.publicKey));
    expect(listener.edgeId).toMatch(/^[A-Za-z0-9_-]{43}$/);

    // Signs with another key than the one it claims.
    const other = await newSigner();
    const liar = { publicKey: signer.publicKey, sign: other.sign };
    const statuses: string[] = [];
    const bad = await nodeRelayEdgeListener({ url: r.url, signer: liar, backoff: { min: 1000, max: 1000 }, onSession: () => undefined });
    cleanup.push(() => bad.close());
    bad.onStatus = (s, detail) => statuses.push(`${s}:${detail ?? ''}`);
    await until(() => statuses.some((s) => s.startsWith('disconnected')), 'refusal');
    expect(statuses).toContain('disconnected:bad signature');
    expect(r.stats().edges).toBe(1); // the honest Edge only
    expect(listener.status).toBe('registered');
  });

  it('lets in a Frontend with a token the Edge issued, and refuses forged, expired and other-Edge tokens', async () => {
    const r = await relay();
    const a = await echoEdge(r.url);
    const b = await echoEdge(r.url);
    const fid = randomFrontendId();
    const good = await createRelayToken(a.signer, { edgeId: a.listener.edgeId, frontendId: fid, expiresAt: Date.now() + 60_000 });
    const t = await nodeRelayConnector({ url: r.url, edgeId: a.listener.edgeId, credential: { token: good } })();
    expect(await roundTrip(t, 'hello through the relay')).toBe('hello through the relay');
    expect(a.sessions.map((s) => [s.frontendId, s.pairing])).toEqual([[fid, false]]);
    t.close();

    const forger = await newSigner();
    const forged = await createRelayToken(forger, { edgeId: a.listener.edgeId, frontendId: fid });
    const expired = await createRelayToken(a.signer, { edgeId: a.listener.edgeId, frontendId: fid, expiresAt: Date.now() - 1 });
    const ofB = await createRelayToken(b.signer, { edgeId: b.listener.edgeId, frontendId: fid });
    const aNamingB = await createRelayToken(a.signer, { edgeId: b.listener.edgeId, frontendId: fid });
    const tampered = `${good.split('.')[0]?.slice(0, -2)}xx.${good.split('.')[1]}`;
    const to = (token: string) => refusal(nodeRelayConnector({ url: r.url, edgeId: a.listener.edgeId, credential: { token } })());
    expect(await to(forged)).toEqual({ code: 'FORBIDDEN', closeCode: 4401, reason: 'bad token signature' });
    expect(await to(expired)).toEqual({ code: 'FORBIDDEN', closeCode: 4401, reason: 'token expired' });
    expect(await to(ofB)).toEqual({ code: 'FORBIDDEN', closeCode: 4401, reason: 'bad token signature' });
    expect(await to(aNamingB)).toEqual({ code: 'FORBIDDEN', closeCode: 4401, reason: 'token of another edge' });
    expect((await to(tampered)).closeCode).toBe(4401);
    expect((await to('not a token')).closeCode).toBe(4401);
    // A good token of B is refused at A, and no session reached A meanwhile.
    expect(a.sessions).toHaveLength(1);
    const unknown = await refusal(nodeRelayConnector({ url: r.url, edgeId: randomFrontendId(), credential: { token: good } })());
    expect(unknown).toEqual({ code: 'BACKEND', closeCode: 4404, reason: 'edge not connected' });
  });

  it('takes a pairing ticket once', async () => {
    const r = await relay();
    const a = await echoEdge(r.url);
    await a.listener.offerPairing('one-time-ticket-1', 60_000);
    const connect = nodeRelayConnector({ url: r.url, edgeId: a.listener.edgeId, credential: { ticket: 'one-time-ticket-1' } });
    const t = await connect();
    expect(await roundTrip(t, 'paired?')).toBe('paired?');
    expect(a.sessions.map((s) => s.pairing)).toEqual([true]);
    expect(await refusal(connect())).toEqual({ code: 'FORBIDDEN', closeCode: 4401, reason: 'unknown, used or expired ticket' });
    expect((await refusal(nodeRelayConnector({ url: r.url, edgeId: a.listener.edgeId, credential: { ticket: 'never-offered' } })())).closeCode).toBe(4401);
    // An expired ticket is refused too.
    await a.listener.offerPairing('short-lived', 1);
    await new Promise((res) => setTimeout(res, 20));
    expect((await refusal(nodeRelayConnector({ url: r.url, edgeId: a.listener.edgeId, credential: { ticket: 'short-lived' } })())).closeCode).toBe(4401);
  });

  it('cuts off a revoked Frontend and refuses its token, also after the Edge registers again', async () => {
    const r = await relay();
    const a = await echoEdge(r.url);
    const fid = randomFrontendId();
    const token = await createRelayToken(a.signer, { edgeId: a.listener.edgeId, frontendId: fid });
    const connect = nodeRelayConnector({ url: r.url, edgeId: a.listener.edgeId, credential: { token } });
    const other = nodeRelayConnector({ url: r.url, edgeId: a.listener.edgeId, credential: { token: await createRelayToken(a.signer, { edgeId: a.listener.edgeId, frontendId: randomFrontendId() }) } });
    const t = await connect();
    const u = await other();
    let closed = '';
    t.onclose = (reason) => {
      closed = reason;
    };
    await a.listener.revoke(fid);
    await until(() => closed !== '', 'revoked frontend cut off');
    expect(closed).toBe('revoked by the edge');
    expect(await roundTrip(u, 'still here')).toBe('still here');
    expect(await refusal(connect())).toEqual({ code: 'REVOKED', closeCode: 4403, reason: 'revoked by the edge' });

    // A new relay (a restart loses the registration): the Edge sends its revoked list again.
    const port = r.port;
    await r.close();
    const r2 = await relay({ port });
    await until(() => a.listener.status === 'registered' && r2.stats().edges === 1, 'edge registered again');
    expect(await refusal(connect())).toEqual({ code: 'REVOKED', closeCode: 4403, reason: 'revoked by the edge' });
  });

  it('gives up on a server that never admits the session, and retries registering with one that never answers', async () => {
    const silent = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((r) => silent.once('listening', r));
    cleanup.push(() => new Promise((r) => silent.close(r)));
    const url = `ws://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    const refused = await refusal(nodeRelayConnector({ url, edgeId: randomFrontendId(), credential: { ticket: 't' }, timeoutMs: 300 })());
    expect(refused).toEqual({ code: 'BACKEND', closeCode: undefined, reason: 'timeout' });
    const statuses: string[] = [];
    const listener = await nodeRelayEdgeListener({ url, signer: await newSigner(), timeoutMs: 200, backoff: { min: 10, max: 20 }, onSession: () => undefined });
    cleanup.push(() => listener.close());
    listener.onStatus = (s, detail) => statuses.push(`${s}:${detail ?? ''}`);
    await until(() => statuses.filter((s) => s === 'disconnected:registration timeout').length >= 2, 'two attempts dropped');
    expect(listener.status).not.toBe('registered');
  });

  it('runs the sync protocol through the relay', async () => {
    const r = await relay();
    const edge = memoryEdge();
    const signer = await newSigner();
    const listener: RelayEdge = await nodeRelayEdgeListener({ url: r.url, signer, onSession: (t) => edge.sync.accept(t) });
    cleanup.push(() => listener.close());
    for (let i = 0; i < 50; i++) await edge.triangular.saveObserved('pump', `p${i}`, { rpm: i });
    const token = await createRelayToken(signer, { edgeId: listener.edgeId, frontendId: randomFrontendId() });
    const fe = frontendOn(openStore(new MemoryAdapter()), nodeRelayConnector({ url: r.url, edgeId: listener.edgeId, credential: { token } }), { subscription: { workerTypes: ['pump'] } });
    cleanup.push(() => fe.stop());
    await fe.start();
    await fe.settled();
    expect((await fe.store.find('pump_observed')).length).toBe(50);
    await fe.saveDesired('pump', 'p1', { rpm: 7 });
    await fe.settled();
    expect((await edge.triangular.loadDesired('pump', 'p1'))?.rpm).toBe(7);
  });
});
