/**
 * The relay: Edges dial out to `/edge` and register their public key after a signed challenge;
 * Frontends dial `/connect`, name the Edge and present a token it issued or a one-time pairing
 * ticket it offered; the relay asks the Edge (over its control connection) to open a data
 * connection to `/session` for that Frontend, then forwards frames between the two unchanged.
 * One TCP stream per Frontend session (no multiplexing), so a slow Frontend slows only its own
 * stream. Nothing is parsed after the auth frames and nothing is kept but sockets and the
 * registrations of connected Edges (public key, revoked ids, hashes of offered tickets).
 */
import { createServer as createHttpServer } from 'node:http';
import type { Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import type { RawData } from 'ws';
import { EDGE_REGISTER_DOMAIN, edgeIdOf, fromBase64Url, importEdgeKey, isId, ticketHash, toBase64Url, verify, verifyToken } from './keys.js';
import type { RelayOptions } from './options.js';
import { CloseCode, DEFAULTS } from './options.js';

export interface RelayStats {
  /** Open WebSocket connections of every kind. */
  readonly connections: number;
  /** Registered Edges (control connections). */
  readonly edges: number;
  /** Frontend sessions with both ends connected. */
  readonly sessions: number;
  /** Frontend sessions waiting for their Edge to connect. */
  readonly pendingSessions: number;
  /** Bytes queued in the relay towards all sockets (the memory backpressure bounds). */
  readonly bufferedBytes: number;
  /** Sockets the relay has stopped reading because their stream's other end is slow. */
  readonly pausedReaders: number;
  readonly framesForwarded: number;
  readonly bytesForwarded: number;
  readonly memory: NodeJS.MemoryUsage;
}

export interface Relay {
  readonly port: number;
  /** `ws://host:port` or `wss://host:port`. */
  readonly url: string;
  stats(): RelayStats;
  /** Closes every connection (1001) and stops listening. */
  close(): Promise<void>;
}

type Kind = 'new' | 'verifying' | 'control' | 'frontend' | 'data';

interface Conn {
  readonly ws: WebSocket;
  readonly path: string;
  kind: Kind;
  lastSeen: number;
  nonce: string;
  peer: Conn | undefined;
  paused: boolean;
  edge: EdgeEntry | undefined;
  session: Session | undefined;
  timer: NodeJS.Timeout | undefined;
}

interface EdgeEntry {
  readonly edgeId: string;
  readonly key: CryptoKey;
  control: Conn;
  readonly revoked: Set<string>;
  /** SHA-256 of each offered ticket -> expiry (ms since the epoch). */
  readonly tickets: Map<string, number>;
  readonly sessions: Set<Session>;
}

interface Session {
  readonly sid: string;
  readonly edge: EdgeEntry;
  readonly frontend: Conn;
  readonly frontendId: string | undefined;
  readonly pairing: boolean;
  data: Conn | undefined;
}

const utf8 = new TextEncoder();
const MAX_TICKET_TTL_MS = 24 * 60 * 60 * 1000;

function randomId(): string {
  return toBase64Url(globalThis.crypto.getRandomValues(new Uint8Array(18)));
}

/** Close codes a peer may see from the other end; anything else (1005, 1006, ...) becomes GONE. */
function passOn(code: number): number {
  return code === 1000 || code === 1001 || (code >= 3000 && code <= 4999) ? code : CloseCode.GONE;
}

const pem = (x: string | Uint8Array): string | Buffer => (typeof x === 'string' ? x : Buffer.from(x));

function asBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

function parse(data: Buffer, isBinary: boolean): Record<string, unknown> | undefined {
  if (isBinary) return undefined;
  try {
    const m = JSON.parse(data.toString('utf8')) as unknown;
    return typeof m === 'object' && m !== null && !Array.isArray(m) ? (m as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export async function startRelay(options: RelayOptions = {}): Promise<Relay> {
  const o = { ...DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as typeof DEFAULTS & RelayOptions;
  for (const k of ['maxFrameBytes', 'maxFrontendsPerEdge', 'maxConnections', 'idleTimeoutMs', 'maxBufferedBytes', 'handshakeTimeoutMs', 'maxTicketsPerEdge'] as const) {
    if (!Number.isInteger(o[k]) || o[k] <= 0) throw new RangeError(`relay option ${k} must be a positive integer (got ${String(o[k])})`);
  }
  if (!Number.isInteger(o.heartbeatMs) || o.heartbeatMs < 0) throw new RangeError(`relay option heartbeatMs must be 0 or a positive integer`);
  const log = o.log ?? (() => undefined);
  const tap = o.tap;

  const conns = new Set<Conn>();
  const edges = new Map<string, EdgeEntry>();
  const pending = new Map<string, Session>();
  let framesForwarded = 0;
  let bytesForwarded = 0;

  const server: Server = o.tls ? createHttpsServer({ cert: pem(o.tls.cert), key: pem(o.tls.key) }) : createHttpServer();
  server.on('request', (_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' }).end('cse-relay: WebSocket only\n');
  });
  const wss = new WebSocketServer({ server, maxPayload: o.maxFrameBytes });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });

  const sendJson = (c: Conn, m: Record<string, unknown>): void => {
    const text = JSON.stringify(m);
    tap?.('out', utf8.encode(text));
    if (c.ws.readyState === WebSocket.OPEN) c.ws.send(text);
  };

  const shut = (c: Conn, code: number, reason: string): void => {
    if (c.timer !== undefined) clearTimeout(c.timer);
    c.timer = undefined;
    // A paused socket would never read the peer's close frame.
    if (c.paused) {
      c.paused = false;
      c.ws.resume();
    }
    if (c.ws.readyState === WebSocket.OPEN || c.ws.readyState === WebSocket.CONNECTING) {
      c.ws.close(code, reason);
      // A peer that never answers the close (or never reads) is cut after a short grace.
      setTimeout(() => c.ws.terminate(), 5000).unref();
    }
  };

  const endSession = (s: Session, code: number, reason: string): void => {
    pending.delete(s.sid);
    s.edge.sessions.delete(s);
    shut(s.frontend, code, reason);
    if (s.data !== undefined) shut(s.data, code, reason);
  };

  const cutRevoked = (e: EdgeEntry): void => {
    for (const s of [...e.sessions]) if (s.frontendId !== undefined && e.revoked.has(s.frontendId)) endSession(s, CloseCode.REVOKED, 'revoked by the edge');
  };

  const forward = (from: Conn, to: Conn, data: Buffer, isBinary: boolean): void => {
    tap?.('out', data);
    framesForwarded++;
    bytesForwarded += data.length;
    to.ws.send(data, { binary: isBinary }, () => {
      if (from.paused && to.ws.bufferedAmount <= o.maxBufferedBytes / 2) {
        from.paused = false;
        from.ws.resume();
      }
    });
    if (!from.paused && to.ws.bufferedAmount > o.maxBufferedBytes) {
      from.paused = true;
      from.ws.pause();
    }
  };

  const register = async (c: Conn, m: Record<string, unknown>): Promise<void> => {
    const spki = typeof m.publicKey === 'string' ? fromBase64Url(m.publicKey) : undefined;
    const signature = typeof m.signature === 'string' ? fromBase64Url(m.signature) : undefined;
    const revoked = m.revoked === undefined ? [] : m.revoked;
    if (spki === undefined || signature === undefined || !Array.isArray(revoked) || !revoked.every(isId)) return shut(c, CloseCode.BAD_REQUEST, 'malformed register');
    const key = await importEdgeKey(spki);
    const ok = key !== undefined && (await verify(key, EDGE_REGISTER_DOMAIN, c.nonce, signature));
    if (c.ws.readyState !== WebSocket.OPEN) return;
    if (!ok || key === undefined) {
      log(`edge refused: bad signature`);
      return shut(c, CloseCode.UNAUTHORIZED, 'bad signature');
    }
    const edgeId = await edgeIdOf(spki);
    if (c.ws.readyState !== WebSocket.OPEN) return;
    clearTimeout(c.timer);
    c.timer = undefined;
    let e = edges.get(edgeId);
    if (e !== undefined) {
      // The same Edge again (it reconnected before the relay noticed the old connection died):
      // the newer registration takes over the Edge's sessions and offers.
      const old = e.control;
      old.edge = undefined;
      shut(old, CloseCode.REPLACED, 'replaced by a newer registration');
      e.control = c;
    } else {
      e = { edgeId, key, control: c, revoked: new Set(), tickets: new Map(), sessions: new Set() };
      edges.set(edgeId, e);
    }
    for (const id of revoked) e.revoked.add(id);
    c.kind = 'control';
    c.edge = e;
    log(`edge ${edgeId.slice(0, 8)} registered`);
    sendJson(c, { t: 'registered', edgeId });
    cutRevoked(e);
  };

  const control = (c: Conn, e: EdgeEntry, m: Record<string, unknown>): void => {
    const id = m.id;
    if (typeof id !== 'number') return shut(c, CloseCode.BAD_REQUEST, 'malformed control frame');
    if (m.t === 'offer') {
      const ttl = m.ttlMs;
      if (!isId(m.ticketHash) || typeof ttl !== 'number' || !(ttl > 0) || ttl > MAX_TICKET_TTL_MS) return shut(c, CloseCode.BAD_REQUEST, 'malformed offer');
      const now = Date.now();
      for (const [h, exp] of e.tickets) if (exp <= now) e.tickets.delete(h);
      if (e.tickets.size >= o.maxTicketsPerEdge && !e.tickets.has(m.ticketHash)) return sendJson(c, { t: 'nack', id, reason: 'too many tickets on offer' });
      e.tickets.set(m.ticketHash, now + ttl);
      return sendJson(c, { t: 'ack', id });
    }
    if (m.t === 'revoke') {
      if (!isId(m.frontendId)) return shut(c, CloseCode.BAD_REQUEST, 'malformed revoke');
      e.revoked.add(m.frontendId);
      cutRevoked(e);
      return sendJson(c, { t: 'ack', id });
    }
    shut(c, CloseCode.BAD_REQUEST, 'unknown control frame');
  };

  const hello = async (c: Conn, m: Record<string, unknown>): Promise<void> => {
    const edgeId = m.edgeId;
    const token = m.token;
    const ticket = m.ticket;
    if (!isId(edgeId) || (typeof token === 'string') === (typeof ticket === 'string') || (typeof token === 'string' && token.length > 4096) || (typeof ticket === 'string' && ticket.length > 512)) {
      return shut(c, CloseCode.BAD_REQUEST, 'malformed hello');
    }
    const e0 = edges.get(edgeId);
    if (e0 === undefined) return shut(c, CloseCode.NOT_FOUND, 'edge not connected');
    if (e0.sessions.size >= o.maxFrontendsPerEdge) return shut(c, CloseCode.LIMIT, 'too many frontends for this edge');
    let frontendId: string | undefined;
    let hash: string | undefined;
    if (typeof token === 'string') {
      const claims = await verifyToken(e0.key, token, edgeId, Date.now());
      if (typeof claims === 'string') {
        log(`frontend refused: ${claims}`);
        return shut(c, CloseCode.UNAUTHORIZED, claims);
      }
      frontendId = claims.frontendId;
    } else hash = await ticketHash(ticket as string);
    const e = edges.get(edgeId);
    if (c.ws.readyState !== WebSocket.OPEN) return;
    if (e === undefined) return shut(c, CloseCode.NOT_FOUND, 'edge not connected');
    if (e.sessions.size >= o.maxFrontendsPerEdge) return shut(c, CloseCode.LIMIT, 'too many frontends for this edge');
    if (conns.size + pending.size >= o.maxConnections) return shut(c, CloseCode.LIMIT, 'relay full');
    if (frontendId !== undefined && e.revoked.has(frontendId)) return shut(c, CloseCode.REVOKED, 'revoked by the edge');
    if (hash !== undefined) {
      const exp = e.tickets.get(hash);
      e.tickets.delete(hash);
      if (exp === undefined || exp <= Date.now()) {
        log('frontend refused: unknown ticket');
        return shut(c, CloseCode.UNAUTHORIZED, 'unknown, used or expired ticket');
      }
    }
    const s: Session = { sid: randomId(), edge: e, frontend: c, frontendId, pairing: hash !== undefined, data: undefined };
    pending.set(s.sid, s);
    e.sessions.add(s);
    c.kind = 'frontend';
    c.session = s;
    clearTimeout(c.timer);
    c.timer = setTimeout(() => endSession(s, CloseCode.EDGE_UNAVAILABLE, 'the edge did not open the session'), o.handshakeTimeoutMs);
    sendJson(e.control, { t: 'session', sid: s.sid, pairing: s.pairing, ...(frontendId === undefined ? {} : { frontendId }) });
  };

  const accept = (c: Conn, m: Record<string, unknown>): void => {
    const s = typeof m.sid === 'string' ? pending.get(m.sid) : undefined;
    if (s === undefined || m.t !== 'accept') return shut(c, CloseCode.NOT_FOUND, 'unknown session');
    pending.delete(s.sid);
    clearTimeout(c.timer);
    clearTimeout(s.frontend.timer);
    c.timer = undefined;
    s.frontend.timer = undefined;
    c.kind = 'data';
    c.session = s;
    s.data = c;
    c.peer = s.frontend;
    s.frontend.peer = c;
    sendJson(s.frontend, { t: 'ready' });
  };

  const onMessage = (c: Conn, raw: RawData, isBinary: boolean): void => {
    c.lastSeen = Date.now();
    const data = asBuffer(raw);
    tap?.('in', data);
    if (c.peer !== undefined) return forward(c, c.peer, data, isBinary);
    const m = parse(data, isBinary);
    if (m === undefined) return shut(c, CloseCode.BAD_REQUEST, 'malformed frame');
    if (c.kind === 'control' && c.edge !== undefined) return control(c, c.edge, m);
    if (c.kind !== 'new') return shut(c, CloseCode.BAD_REQUEST, 'unexpected frame');
    if (c.path === '/edge' && m.t === 'register') {
      c.kind = 'verifying';
      return void register(c, m).catch(() => shut(c, CloseCode.UNAUTHORIZED, 'cannot verify'));
    }
    if (c.path === '/connect' && m.t === 'hello') {
      c.kind = 'verifying';
      return void hello(c, m).catch(() => shut(c, CloseCode.UNAUTHORIZED, 'cannot verify'));
    }
    if (c.path === '/session') return accept(c, m);
    shut(c, CloseCode.BAD_REQUEST, 'unexpected frame');
  };

  const onClose = (c: Conn, code: number, reason: string): void => {
    conns.delete(c);
    if (c.timer !== undefined) clearTimeout(c.timer);
    const e = c.edge;
    if (c.kind === 'control' && e !== undefined && e.control === c) {
      edges.delete(e.edgeId);
      for (const s of [...e.sessions]) endSession(s, CloseCode.GONE, 'the edge went away');
      log(`edge ${e.edgeId.slice(0, 8)} gone (${code})`);
    }
    const s = c.session;
    if (s !== undefined) endSession(s, passOn(code), reason.slice(0, 100));
  };

  wss.on('connection', (ws, req) => {
    const path = new URL(req.url ?? '/', 'http://relay').pathname;
    // Each pending session has a connection reserved for its Edge's data socket.
    if (conns.size + (path === '/session' ? 0 : pending.size) >= o.maxConnections) {
      ws.close(CloseCode.LIMIT, 'relay full');
      return;
    }
    const c: Conn = { ws, path, kind: 'new', lastSeen: Date.now(), nonce: '', peer: undefined, paused: false, edge: undefined, session: undefined, timer: undefined };
    conns.add(c);
    ws.on('message', (data, isBinary) => onMessage(c, data, isBinary));
    ws.on('pong', () => {
      c.lastSeen = Date.now();
    });
    ws.on('close', (code, reason) => onClose(c, code, reason.toString('utf8')));
    ws.on('error', () => undefined); // a 'close' follows
    if (path !== '/edge' && path !== '/connect' && path !== '/session') return shut(c, CloseCode.NOT_FOUND, 'unknown path');
    c.timer = setTimeout(() => shut(c, CloseCode.TIMEOUT, 'authentication timeout'), o.handshakeTimeoutMs);
    if (path === '/edge') {
      c.nonce = randomId();
      sendJson(c, { t: 'challenge', nonce: c.nonce });
    }
  });

  let lastPing = Date.now();
  const tickMs = Math.max(20, Math.floor(o.heartbeatMs > 0 ? Math.min(o.heartbeatMs, o.idleTimeoutMs / 2) : o.idleTimeoutMs / 4));
  const ticker = setInterval(() => {
    const now = Date.now();
    const ping = o.heartbeatMs > 0 && now - lastPing >= o.heartbeatMs - tickMs / 2;
    if (ping) lastPing = now;
    for (const c of conns) {
      // A paused socket waits on its peer (whose own idle check applies), not on itself.
      if (c.paused) c.lastSeen = now;
      else if (now - c.lastSeen > o.idleTimeoutMs) shut(c, CloseCode.TIMEOUT, 'idle timeout');
      else if (ping && c.ws.readyState === WebSocket.OPEN) c.ws.ping();
    }
    for (const e of edges.values()) for (const [h, exp] of e.tickets) if (exp <= now) e.tickets.delete(h);
  }, tickMs);
  ticker.unref();

  const port = (server.address() as AddressInfo).port;
  const host = o.host.includes(':') ? `[${o.host}]` : o.host;
  return {
    port,
    url: `${o.tls ? 'wss' : 'ws'}://${host}:${port}`,
    stats() {
      let bufferedBytes = 0;
      let pausedReaders = 0;
      for (const c of conns) {
        bufferedBytes += c.ws.bufferedAmount;
        if (c.paused) pausedReaders++;
      }
      let sessions = 0;
      for (const e of edges.values()) sessions += e.sessions.size;
      return {
        connections: conns.size,
        edges: edges.size,
        sessions: sessions - pending.size,
        pendingSessions: pending.size,
        bufferedBytes,
        pausedReaders,
        framesForwarded,
        bytesForwarded,
        memory: process.memoryUsage(),
      };
    },
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(ticker);
        for (const c of conns) {
          c.ws.close(CloseCode.SHUTDOWN, 'relay shutting down');
          c.ws.terminate();
        }
        wss.close(() => server.close(() => resolve()));
        server.closeAllConnections();
      }),
  };
}
