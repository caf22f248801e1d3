/**
 * The relay: Edges dial out to `/edge` and register their public key after a signed challenge;
 * Frontends dial `/connect`, name the Edge and present a token it issued or a one-time pairing
 * ticket it offered; the relay asks the Edge (over its control connection) to open a data
 * connection to `/session` for that Frontend, then forwards frames between the two unchanged.
 * One TCP stream per Frontend session (no multiplexing), so a slow Frontend slows only its own
 * stream. Nothing is parsed after the auth frames and nothing is kept but sockets and the
 * registrations of connected Edges (public key, revoked ids, hashes of offered tickets).
 *
 * With `redis` the relay is one node of a fleet (see fleet.ts): a Frontend whose Edge is
 * registered on another node is routed through Redis to that Edge's home, which asks the Edge to
 * open the data connection to this node, so payload frames never cross Redis or a second node.
 */
import { createServer as createHttpServer } from 'node:http';
import type { Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import type { RawData } from 'ws';
import { Fleet } from './fleet.js';
import type { FleetMessage, Home } from './fleet.js';
import { EDGE_REGISTER_DOMAIN, edgeIdOf, fromBase64Url, importEdgeKey, isId, ticketHash, toBase64Url, verify, verifyToken } from './keys.js';
import type { RelayOptions } from './options.js';
import { CloseCode, DEFAULTS } from './options.js';
import { Metrics } from './metrics.js';

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
  /** In a fleet: this node's id, whether it is in the fleet (Redis reachable) and its Redis commands so far. */
  readonly fleet?: { readonly nodeId: string; readonly up: boolean; readonly redisCommands: number; readonly redisRenewals: number; readonly redisErrors: number };
}

export interface Relay {
  readonly port: number;
  /** `ws://host:port` or `wss://host:port`. */
  readonly url: string;
  /** In a fleet: where Edges reach this node for data connections (`publicUrl`). */
  readonly publicUrl: string;
  stats(): RelayStats;
  /** `GET /metrics`: the Prometheus text exposition. */
  metrics(): string;
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
  /** base64url SPKI, as the fleet directory holds it. */
  readonly spki: string;
  control: Conn;
  readonly revoked: Set<string>;
  /** SHA-256 of each offered ticket -> expiry (ms since the epoch). */
  readonly tickets: Map<string, number>;
  readonly sessions: Set<Session>;
}

interface Session {
  readonly sid: string;
  readonly edgeId: string;
  /** The Edge's registration when it is on this node; undefined when routed to another node. */
  readonly edge: EdgeEntry | undefined;
  readonly frontend: Conn;
  readonly frontendId: string | undefined;
  readonly pairing: boolean;
  data: Conn | undefined;
  /** Holds a place among the Edge's `maxFrontendsPerEdge` in Redis. */
  leased: boolean;
  readonly started: number;
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
  for (const k of ['maxFrameBytes', 'maxFrontendsPerEdge', 'maxConnections', 'idleTimeoutMs', 'maxBufferedBytes', 'handshakeTimeoutMs', 'maxTicketsPerEdge', 'leaseMs', 'redisTimeoutMs'] as const) {
    if (!Number.isInteger(o[k]) || o[k] <= 0) throw new RangeError(`relay option ${k} must be a positive integer (got ${String(o[k])})`);
  }
  if (!Number.isInteger(o.heartbeatMs) || o.heartbeatMs < 0) throw new RangeError(`relay option heartbeatMs must be 0 or a positive integer`);
  if (o.redis !== undefined && !/^rediss?:\/\//.test(o.redis)) throw new RangeError('relay option redis must be a redis:// or rediss:// URL');
  if (o.publicUrl !== undefined && !/^wss?:\/\/[^/]+\/?$/.test(o.publicUrl)) throw new RangeError('relay option publicUrl must be ws://host:port or wss://host:port');
  if (o.nodeId !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(o.nodeId)) throw new RangeError('relay option nodeId must be 1 to 64 of A-Z a-z 0-9 _ . -');
  const log = o.log ?? (() => undefined);
  const tap = o.tap;

  const conns = new Set<Conn>();
  const edges = new Map<string, EdgeEntry>();
  const pending = new Map<string, Session>();
  /** Sessions whose Frontend is connected here, by Edge id (local and routed). */
  const held = new Map<string, Set<Session>>();
  /** Pairing tickets consumed here while Redis was away: marked used in Redis when it returns. */
  const usedWhileDown: { edgeId: string; hash: string; expires: number }[] = [];
  const keys = new Map<string, CryptoKey>();
  const metrics = new Metrics();
  let framesForwarded = 0;
  let bytesForwarded = 0;
  let fleet: Fleet | undefined;
  let publicUrl = '';

  const authFailed = (reason: string): void => metrics.inc('cse_relay_auth_failures_total', 'Connections refused at authentication, by reason', { reason: reason.replace(/[^a-z]+/gi, '_') });
  const routed = (route: string, result: string): void => metrics.inc('cse_relay_routing_requests_total', 'Frontend hellos, by route (local: Edge on this node, remote: on another) and result', { route, result });

  const server: Server = o.tls ? createHttpsServer({ cert: pem(o.tls.cert), key: pem(o.tls.key) }) : createHttpServer();
  server.on('request', (req, res) => {
    const path = new URL(req.url ?? '/', 'http://relay').pathname;
    if (req.method === 'GET' && path === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(relay.metrics());
    } else if (req.method === 'GET' && path === '/healthz') {
      const ready = fleet === undefined || fleet.up;
      res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(ready ? 'ok\n' : 'not in the fleet (Redis unreachable)\n');
    } else res.writeHead(426, { 'content-type': 'text/plain' }).end('cse-relay: WebSocket only\n');
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
    s.edge?.sessions.delete(s);
    const set = held.get(s.edgeId);
    if (set?.delete(s) === true && set.size === 0) held.delete(s.edgeId);
    if (s.leased) {
      s.leased = false;
      fleet?.unlease(s.edgeId, s.sid).catch(() => undefined); // else its lease runs out
    }
    shut(s.frontend, code, reason);
    if (s.data !== undefined) shut(s.data, code, reason);
  };

  /** Cuts the sessions held here of these revoked Frontends of `edgeId`. */
  const cutRevoked = (edgeId: string, revoked: ReadonlySet<string>): void => {
    for (const s of [...(held.get(edgeId) ?? [])]) if (s.frontendId !== undefined && revoked.has(s.frontendId)) endSession(s, CloseCode.REVOKED, 'revoked by the edge');
  };

  /** Runs a fleet operation; undefined when not in a fleet or Redis failed (the caller degrades). */
  const viaFleet = async <T>(f: (fl: Fleet) => Promise<T>): Promise<T | undefined> => {
    if (fleet === undefined || !fleet.up) return undefined;
    try {
      return await f(fleet);
    } catch {
      return undefined;
    }
  };

  const keyOf = async (spki: string): Promise<CryptoKey | undefined> => {
    const known = keys.get(spki);
    if (known !== undefined) return known;
    const bytes = fromBase64Url(spki);
    const key = bytes === undefined ? undefined : await importEdgeKey(bytes);
    if (key !== undefined) {
      if (keys.size >= 10_000) keys.clear();
      keys.set(spki, key);
    }
    return key;
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
      metrics.inc('cse_relay_backpressure_pauses_total', 'Times the relay stopped reading a socket because its peer was slow');
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
      authFailed('bad signature');
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
      e = { edgeId, key, spki: toBase64Url(spki), control: c, revoked: new Set(), tickets: new Map(), sessions: new Set() };
      edges.set(edgeId, e);
    }
    for (const id of revoked) e.revoked.add(id);
    c.kind = 'control';
    c.edge = e;
    log(`edge ${edgeId.slice(0, 8)} registered`);
    const entry = e;
    const known = [...e.revoked];
    await viaFleet(async (fl) => {
      await fl.claim(edgeId, entry.spki, known);
      await fl.revoke(edgeId, known);
    });
    if (c.ws.readyState !== WebSocket.OPEN || entry.control !== c) return;
    sendJson(c, { t: 'registered', edgeId });
    cutRevoked(edgeId, e.revoked);
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
      const hash = m.ticketHash;
      return void viaFleet((fl) => fl.offer(e.edgeId, hash, ttl)).then((offered) => {
        // Used already (an Edge offers its tickets again at each registration): no local copy,
        // or a pair here would take it a second time while Redis is away.
        if (offered === false) e.tickets.delete(hash);
        sendJson(c, { t: 'ack', id });
      });
    }
    if (m.t === 'revoke') {
      if (!isId(m.frontendId)) return shut(c, CloseCode.BAD_REQUEST, 'malformed revoke');
      const frontendId = m.frontendId;
      e.revoked.add(frontendId);
      cutRevoked(e.edgeId, e.revoked);
      return void viaFleet((fl) => fl.revoke(e.edgeId, [frontendId])).then(() => sendJson(c, { t: 'ack', id }));
    }
    shut(c, CloseCode.BAD_REQUEST, 'unknown control frame');
  };

  const hello = async (c: Conn, m: Record<string, unknown>): Promise<void> => {
    const edgeId = m.edgeId;
    const token = m.token;
    const ticket = m.ticket;
    if (!isId(edgeId) || (typeof token === 'string') === (typeof ticket === 'string') || (typeof token === 'string' && token.length > 4096) || (typeof ticket === 'string' && ticket.length > 512)) {
      authFailed('malformed hello');
      return shut(c, CloseCode.BAD_REQUEST, 'malformed hello');
    }
    const e0 = edges.get(edgeId);
    const route = e0 === undefined ? 'remote' : 'local';
    const refuse = (code: number, reason: string, result: string): void => {
      routed(route, result);
      shut(c, code, reason);
    };
    // The Edge on another node: its home and key from the directory.
    let home: Home | undefined;
    let key: CryptoKey | undefined = e0?.key;
    if (e0 === undefined) {
      if (fleet === undefined) return refuse(CloseCode.NOT_FOUND, 'edge not connected', 'not_found');
      if (!fleet.up) return refuse(CloseCode.FLEET_UNAVAILABLE, 'fleet routing unavailable', 'unavailable');
      try {
        home = await fleet.home(edgeId);
      } catch {
        return refuse(CloseCode.FLEET_UNAVAILABLE, 'fleet routing unavailable', 'unavailable');
      }
      if (home === undefined) return refuse(CloseCode.NOT_FOUND, 'edge not connected', 'not_found');
      key = await keyOf(home.spki);
      if (key === undefined) return refuse(CloseCode.NOT_FOUND, 'edge not connected', 'not_found');
    } else if (e0.sessions.size >= o.maxFrontendsPerEdge) return refuse(CloseCode.LIMIT, 'too many frontends for this edge', 'limit');
    let frontendId: string | undefined;
    let hash: string | undefined;
    if (typeof token === 'string') {
      const claims = await verifyToken(key as CryptoKey, token, edgeId, Date.now());
      if (typeof claims === 'string') {
        log(`frontend refused: ${claims}`);
        authFailed(claims);
        return refuse(CloseCode.UNAUTHORIZED, claims, 'refused');
      }
      frontendId = claims.frontendId;
    } else hash = await ticketHash(ticket as string);
    const e = edges.get(edgeId);
    if (c.ws.readyState !== WebSocket.OPEN) return;
    if (e0 !== undefined && e === undefined) return refuse(CloseCode.NOT_FOUND, 'edge not connected', 'not_found');
    if (e !== undefined && e.sessions.size >= o.maxFrontendsPerEdge) return refuse(CloseCode.LIMIT, 'too many frontends for this edge', 'limit');
    if (conns.size + pending.size >= o.maxConnections) return refuse(CloseCode.LIMIT, 'relay full', 'limit');
    if (frontendId !== undefined) {
      const revoked = e !== undefined ? e.revoked.has(frontendId) : await viaFleet((fl) => fl.isRevoked(edgeId, frontendId));
      if (revoked === undefined) return refuse(CloseCode.FLEET_UNAVAILABLE, 'fleet routing unavailable', 'unavailable');
      if (revoked) {
        authFailed('revoked');
        return refuse(CloseCode.REVOKED, 'revoked by the edge', 'refused');
      }
    }
    const sid = randomId();
    // The Edge's sessions fleet-wide: a place among maxFrontendsPerEdge, leased in Redis.
    const leased = await viaFleet((fl) => fl.lease(edgeId, sid, o.maxFrontendsPerEdge));
    if (leased === false) return refuse(CloseCode.LIMIT, 'too many frontends for this edge', 'limit');
    if (leased === undefined && e === undefined) return refuse(CloseCode.FLEET_UNAVAILABLE, 'fleet routing unavailable', 'unavailable');
    const unlease = (): void => {
      if (leased === true) fleet?.unlease(edgeId, sid).catch(() => undefined);
    };
    if (hash !== undefined) {
      const h = hash;
      const local = e?.tickets.get(h);
      e?.tickets.delete(h);
      // Fleet-wide single use in Redis; the home's own copy when Redis is away (marked used later).
      let ok = await viaFleet((fl) => fl.consume(edgeId, h));
      if (ok === undefined && e !== undefined) {
        ok = local !== undefined && local > Date.now();
        if (ok && fleet !== undefined) usedWhileDown.push({ edgeId, hash: h, expires: local as number });
      }
      if (ok === true && e === undefined && home !== undefined) void viaFleet((fl) => fl.send((home as Home).node, { t: 'used', edgeId, hash: h }));
      if (ok !== true) {
        unlease();
        log('frontend refused: unknown ticket');
        authFailed('unknown ticket');
        return refuse(ok === undefined ? CloseCode.FLEET_UNAVAILABLE : CloseCode.UNAUTHORIZED, ok === undefined ? 'fleet routing unavailable' : 'unknown, used or expired ticket', ok === undefined ? 'unavailable' : 'refused');
      }
    }
    if (c.ws.readyState !== WebSocket.OPEN) return unlease();
    const s: Session = { sid, edgeId, edge: e, frontend: c, frontendId, pairing: hash !== undefined, data: undefined, leased: leased === true, started: performance.now() };
    pending.set(s.sid, s);
    e?.sessions.add(s);
    let set = held.get(edgeId);
    if (set === undefined) held.set(edgeId, (set = new Set()));
    set.add(s);
    c.kind = 'frontend';
    c.session = s;
    clearTimeout(c.timer);
    c.timer = setTimeout(() => {
      routed(s.edge === undefined ? 'remote' : 'local', 'timeout');
      endSession(s, CloseCode.EDGE_UNAVAILABLE, 'the edge did not open the session');
    }, o.handshakeTimeoutMs);
    const ask = { sid: s.sid, pairing: s.pairing, ...(frontendId === undefined ? {} : { frontendId }) };
    // In a fleet the Edge dials this node's public address (its own may be the load balancer's).
    if (e !== undefined) sendJson(e.control, { t: 'session', ...ask, ...(fleet === undefined ? {} : { url: publicUrl }) });
    else {
      const f = fleet as Fleet;
      f.send((home as Home).node, { t: 'open', edgeId, ...ask, url: publicUrl, from: f.nodeId }).catch(() => {
        routed('remote', 'unavailable');
        endSession(s, CloseCode.FLEET_UNAVAILABLE, 'fleet routing unavailable');
      });
    }
  };

  /** Another node's request or notice, over Redis pub/sub. */
  const onFleetMessage = (m: FleetMessage): void => {
    if (m.t === 'open') {
      const e = isId(m.edgeId) ? edges.get(m.edgeId) : undefined;
      if (e === undefined) return void viaFleet((fl) => fl.send(m.from, { t: 'gone', sid: m.sid }));
      sendJson(e.control, { t: 'session', sid: m.sid, pairing: m.pairing === true, ...(isId(m.frontendId) ? { frontendId: m.frontendId } : {}), url: m.url });
    } else if (m.t === 'gone') {
      const s = pending.get(m.sid);
      if (s !== undefined) {
        routed('remote', 'not_found');
        endSession(s, CloseCode.NOT_FOUND, 'edge not connected');
      }
    } else if (m.t === 'used') {
      edges.get(m.edgeId)?.tickets.delete(m.hash);
    } else if (m.t === 'revoke' && Array.isArray(m.ids)) {
      const ids = new Set(m.ids.filter(isId));
      const e = edges.get(m.edgeId);
      if (e !== undefined) for (const id of ids) e.revoked.add(id);
      cutRevoked(m.edgeId, ids);
    }
  };

  /** Redis is back (or was restarted empty): write this node's part of the fleet state again. */
  const resync = async (fl: Fleet): Promise<void> => {
    const now = Date.now();
    for (const e of edges.values()) {
      await fl.claim(e.edgeId, e.spki, [...e.revoked]);
      for (const [h, exp] of e.tickets) if (exp > now && !(await fl.offer(e.edgeId, h, exp - now))) e.tickets.delete(h);
    }
    for (const u of usedWhileDown.splice(0)) if (u.expires > now) await fl.markUsed(u.edgeId, u.hash, u.expires - now);
    for (const set of held.values()) for (const s of set) s.leased = await fl.lease(s.edgeId, s.sid, 2 ** 31);
  };

  /** Every third of the lease: renews the homes of this node's Edges and the places of its sessions. */
  const renew = async (fl: Fleet): Promise<void> => {
    if (!fl.up) return fl.heartbeat();
    await Promise.all([
      ...[...edges.values()].map(async (e) => {
        if (!(await fl.renew(e.edgeId, e.spki)) && edges.get(e.edgeId) === e) {
          // The Edge registered on another node since: that registration wins.
          edges.delete(e.edgeId);
          e.control.edge = undefined;
          shut(e.control, CloseCode.REPLACED, 'replaced by a newer registration');
          for (const s of [...e.sessions]) endSession(s, CloseCode.GONE, 'the edge went away');
        }
      }),
      ...[...held.values()].flatMap((set) => [...set].map(async (s) => void (s.leased = await fl.lease(s.edgeId, s.sid, 2 ** 31, true)))),
    ]).catch(() => undefined);
    if (edges.size === 0 && held.size === 0) await fl.heartbeat();
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
    const route = s.edge === undefined ? 'remote' : 'local';
    routed(route, 'ok');
    metrics.observe('cse_relay_routing_seconds', 'Time from a Frontend hello to its Edge data connection, by route', { route }, (performance.now() - s.started) / 1000);
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
      void viaFleet((fl) => fl.release(e.edgeId, e.spki));
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
  const url = `${o.tls ? 'wss' : 'ws'}://${host}:${port}`;
  publicUrl = (o.publicUrl ?? url).replace(/\/+$/, '');
  let fleetTicker: NodeJS.Timeout | undefined;
  if (o.redis !== undefined) {
    const fl = new Fleet(
      { url: o.redis, cluster: o.redisCluster === true, prefix: o.redisPrefix, nodeId: o.nodeId ?? randomId(), leaseMs: o.leaseMs, commandTimeoutMs: o.redisTimeoutMs },
      {
        message: onFleetMessage,
        up: () => {
          log(`fleet: in the fleet as node ${fl.nodeId}`);
          resync(fl).catch(() => undefined);
        },
        down: () => log('fleet: Redis unreachable, serving local pairs only'),
      },
    );
    fleet = fl;
    try {
      await fl.start(o.handshakeTimeoutMs);
    } catch (e) {
      log(`fleet: ${(e as Error).message}; retrying`);
    }
    let renewing = false;
    fleetTicker = setInterval(() => {
      if (renewing) return;
      renewing = true;
      void renew(fl).finally(() => {
        renewing = false;
      });
    }, Math.max(50, Math.floor(o.leaseMs / 3)));
    fleetTicker.unref();
  }

  const relay: Relay = {
    port,
    url,
    publicUrl,
    metrics() {
      const st = relay.stats();
      const kinds = new Map<string, number>([['edge_control', 0], ['frontend', 0], ['edge_data', 0], ['authenticating', 0]]);
      for (const c of conns) {
        const k = c.kind === 'control' ? 'edge_control' : c.kind === 'data' ? 'edge_data' : c.kind === 'frontend' ? 'frontend' : 'authenticating';
        kinds.set(k, (kinds.get(k) ?? 0) + 1);
      }
      return metrics.render([
        ['cse_relay_connections', 'Open WebSocket connections by kind', [...kinds].map(([kind, n]) => [{ kind }, n] as const)],
        ['cse_relay_edges', 'Edges registered on this node', [[{}, st.edges]]],
        ['cse_relay_sessions', 'Frontend sessions with both ends connected on this node', [[{}, st.sessions]]],
        ['cse_relay_sessions_pending', 'Frontend sessions waiting for their Edge', [[{}, st.pendingSessions]]],
        ['cse_relay_buffered_bytes', 'Bytes queued towards all sockets', [[{}, st.bufferedBytes]]],
        ['cse_relay_paused_readers', 'Sockets not read because their peer is slow', [[{}, st.pausedReaders]]],
        ['cse_relay_frames_forwarded_total', 'Frames forwarded between the two ends of sessions', [[{}, st.framesForwarded]], 'counter'],
        ['cse_relay_bytes_forwarded_total', 'Bytes forwarded between the two ends of sessions', [[{}, st.bytesForwarded]], 'counter'],
        ['cse_relay_fleet_up', 'In a fleet: 1 when Redis is reachable (the node routes), 0 when degraded', fleet === undefined ? [] : [[{}, fleet.up ? 1 : 0]]],
        ['cse_relay_redis_commands_total', 'Redis commands sent by this node', fleet === undefined ? [] : [[{}, fleet.commands]], 'counter'],
        ['cse_relay_redis_renewals_total', 'Of those, lease renewals and pings (the load at rest)', fleet === undefined ? [] : [[{}, fleet.renewals]], 'counter'],
        ['cse_relay_redis_errors_total', 'Redis commands that failed or timed out', fleet === undefined ? [] : [[{}, fleet.errors]], 'counter'],
        ['process_resident_memory_bytes', 'Resident set size', [[{}, st.memory.rss]]],
        ['nodejs_heap_used_bytes', 'V8 heap in use', [[{}, st.memory.heapUsed]]],
      ]);
    },
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
        ...(fleet === undefined ? {} : { fleet: { nodeId: fleet.nodeId, up: fleet.up, redisCommands: fleet.commands, redisRenewals: fleet.renewals, redisErrors: fleet.errors } }),
      };
    },
    close: async () => {
      clearInterval(ticker);
      if (fleetTicker !== undefined) clearInterval(fleetTicker);
      // Leave the directory at once rather than when the leases run out.
      await Promise.all([...edges.values()].map((e) => viaFleet((fl) => fl.release(e.edgeId, e.spki))));
      await fleet?.close();
      fleet = undefined;
      await new Promise<void>((resolve) => {
        for (const c of conns) {
          c.ws.close(CloseCode.SHUTDOWN, 'relay shutting down');
          c.ws.terminate();
        }
        wss.close(() => server.close(() => resolve()));
        server.closeAllConnections();
      });
    },
  };
  return relay;
}
