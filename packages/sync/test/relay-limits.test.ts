// The relay's limits and backpressure over real WebSockets on loopback: an oversize frame closes
// its own connection only; per-Edge and total connection limits; the idle timeout, and
// heartbeats keeping a quiet session; a Frontend that stops reading stops the relay reading
// the Edge's stream, and the relay's queued bytes stay bounded.
import { isCseError } from '@cse/core';
import { createRelayToken } from '@cse/sync';
import type { Transport } from '@cse/sync';
import { nodeRelayConnector, nodeRelayEdgeListener } from '@cse/sync/node';
import { WebSocket } from 'ws';
import { describe, expect, it } from 'vitest';
import { cleanup, relay } from './fixtures/relay-cleanup.js';
import { until } from './helpers.js';
import { newSigner, randomFrontendId } from './fixtures/relay-signer.js';


interface Session {
  t: Transport;
  closed?: string;
}

/** An Edge whose sessions echo (or stay silent with `echo: false`). */
async function edgeAt(url: string, echo = true) {
  const signer = await newSigner();
  const sessions: Session[] = [];
  const listener = await nodeRelayEdgeListener({
    url,
    signer,
    backoff: { min: 20, max: 200 },
    onSession(t) {
      const s: Session = { t };
      sessions.push(s);
      if (echo) t.onmessage = (f) => t.send(f);
      t.onclose = (reason) => {
        s.closed = reason;
      };
    },
  });
  cleanup.push(() => listener.close());
  await until(() => listener.status === 'registered', 'edge registered');
  const connector = async (WebSocketImpl?: new (url: string) => WebSocket) => {
    const token = await createRelayToken(signer, { edgeId: listener.edgeId, frontendId: randomFrontendId() });
    const options = { url, edgeId: listener.edgeId, credential: { token } };
    return WebSocketImpl === undefined ? nodeRelayConnector(options) : (await import('@cse/sync')).relayConnector({ ...options, WebSocket: WebSocketImpl as never });
  };
  return { listener, sessions, connector };
}

function watch(t: Transport): { closed?: string; frames: string[] } {
  const w: { closed?: string; frames: string[] } = { frames: [] };
  t.onmessage = (f) => w.frames.push(f);
  t.onclose = (reason) => {
    w.closed = reason;
  };
  return w;
}

async function echoes(t: Transport, w: { frames: string[] }, text: string): Promise<void> {
  const n = w.frames.length;
  t.send(text);
  await until(() => w.frames.length > n, `echo of ${text}`);
  expect(w.frames[n]).toBe(text);
}

async function refusedWith(p: Promise<Transport>): Promise<unknown> {
  try {
    (await p).close();
  } catch (e) {
    if (isCseError(e)) return e.details.closeCode;
    throw e;
  }
  return 'connected';
}

describe('relay limits', () => {
  it('closes the connection of an oversize frame only', async () => {
    const r = await relay({ maxFrameBytes: 64 * 1024 });
    const e = await edgeAt(r.url);
    const one = await (await e.connector())();
    const two = await (await e.connector())();
    const w1 = watch(one);
    const w2 = watch(two);
    await echoes(one, w1, 'small');
    one.send('x'.repeat(64 * 1024 + 1));
    await until(() => w1.closed !== undefined, 'the oversize sender closed');
    await until(() => e.sessions[0]?.closed !== undefined, "the Edge's end of that stream closed");
    await echoes(two, w2, 'the other session still works');
    // The Edge's own oversize frame closes its stream the same way, and nothing else.
    e.sessions[1]?.t.send('y'.repeat(100_000));
    await until(() => w2.closed !== undefined, 'the second stream closed');
    expect(e.listener.status).toBe('registered');
    const three = await (await e.connector())();
    await echoes(three, watch(three), 'and new sessions open');
  });

  it('limits Frontends per Edge and connections in all', async () => {
    const r = await relay({ maxFrontendsPerEdge: 2, maxConnections: 7 });
    const a = await edgeAt(r.url);
    const b = await edgeAt(r.url);
    await (await a.connector())();
    await (await a.connector())();
    expect(await refusedWith((await a.connector())())).toBe(4429);
    // 2 controls + 2x2 of A's streams = 6: B's Frontend would need 2 more (its own and B's data socket).
    expect(await refusedWith((await b.connector())())).toBe(4429);
    expect(r.stats()).toMatchObject({ edges: 2, sessions: 2, pendingSessions: 0 });
    await until(() => r.stats().connections === 6, 'refused connections gone');
  });

  it('closes an idle connection, and heartbeats keep a quiet session alive', async () => {
    const quiet = await relay({ heartbeatMs: 0, idleTimeoutMs: 600 });
    const e = await edgeAt(quiet.url);
    const t = await (await e.connector())();
    const w = watch(t);
    // The Edge's control connection stays busy (offers), so only the quiet session idles.
    let statuses = 0;
    e.listener.onStatus = () => statuses++;
    for (let i = 0; w.closed === undefined && i < 100; i++) {
      await e.listener.offerPairing(`keep-busy-${i}`, 1000);
      await new Promise((res) => setTimeout(res, 100));
    }
    expect(w.closed).toBe('idle timeout');
    expect(e.sessions[0]?.closed).toBe('idle timeout');
    expect({ status: e.listener.status, statuses }).toEqual({ status: 'registered', statuses: 0 });

    // Twice the idle timeout of silence; the timeout leaves heartbeats (every 100 ms) a wide margin
    // for a busy machine's late timers, so only a relay that ignores them fails here.
    const alive = await relay({ heartbeatMs: 100, idleTimeoutMs: 1500 });
    const f = await edgeAt(alive.url);
    const u = await (await f.connector())();
    const v = watch(u);
    await new Promise((res) => setTimeout(res, 3000));
    expect(v.closed).toBeUndefined();
    await echoes(u, v, 'still open after 3 s of silence');
    expect(f.listener.status).toBe('registered');
  });
});

describe('relay backpressure', () => {
  it('a Frontend that stops reading stops the relay reading the Edge; the relay queue stays bounded', { timeout: 120_000 }, async () => {
    const maxBufferedBytes = 256 * 1024;
    const r = await relay({ maxBufferedBytes });
    const e = await edgeAt(r.url, false);
    const sockets: WebSocket[] = [];
    class Recording extends WebSocket {
      constructor(url: string) {
        super(url);
        sockets.push(this);
      }
    }
    const t = await (await e.connector(Recording))();
    const got: string[] = [];
    t.onmessage = (f) => got.push(f);
    const frontendSocket = sockets[0] as WebSocket;
    frontendSocket.pause(); // the Frontend stops reading

    const edgeEnd = (e.sessions[0] as Session).t;
    const frame = 'z'.repeat(64 * 1024);
    const frames = 1000; // 64 MiB, far above every socket buffer on the way
    for (let i = 0; i < frames; i++) edgeEnd.send(`${String(i).padStart(6, '0')}${frame}`);
    let maxQueued = 0;
    let last = -1;
    // Until the relay has stopped forwarding (nothing more for a while).
    for (let still = 0; still < 10; ) {
      await new Promise((res) => setTimeout(res, 100));
      const s = r.stats();
      maxQueued = Math.max(maxQueued, s.bufferedBytes);
      still = s.bytesForwarded === last ? still + 1 : 0;
      last = s.bytesForwarded;
    }
    const stalled = r.stats();
    expect(stalled.pausedReaders).toBe(1);
    expect(stalled.bytesForwarded).toBeLessThan((frames * frame.length) / 2);
    expect(edgeEnd.buffered).toBeGreaterThan(16 * 1024 * 1024); // the rest waits at the Edge
    expect(maxQueued).toBeLessThanOrEqual(maxBufferedBytes + 2 * (frame.length + 16));

    frontendSocket.resume();
    await until(() => got.length === frames, () => `all frames (${got.length}/${frames})`, 60_000);
    expect(got.every((f, i) => f.startsWith(String(i).padStart(6, '0')))).toBe(true);
    await until(() => r.stats().bufferedBytes === 0 && r.stats().pausedReaders === 0, 'the relay queue drained');
    expect(maxQueued).toBeLessThanOrEqual(maxBufferedBytes + 2 * (frame.length + 16));
  });
});
