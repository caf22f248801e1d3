/**
 * Transports through a `cse-relay` (package `@cse/relay`), isomorphic: the browser's
 * `WebSocket`, or the `ws` constructor on Node (`@cse/sync/node` passes it for you).
 *
 * - The Edge dials out with `relayEdgeListener`: one control connection, on which it proves its
 *   key with a signed challenge and is registered under `edgeIdOf(publicKey)`; for each Frontend
 *   the relay asks it to open one data connection, handed to `onSession` as a `Transport`.
 * - A Frontend connects with `relayConnector` (a `Connect` for `FrontendSync`), naming the Edge
 *   and presenting a token the Edge issued (`createRelayToken`) or a one-time pairing ticket the
 *   Edge offered (`RelayEdge.offerPairing`).
 *
 * The relay forwards frames unchanged; it authenticates, it does not protect the content. Put
 * the encrypted channel on top of these transports whenever the relay is not your own machine.
 */
import { CseError, ErrorCode } from '@cse/core';
import type { Connect, Transport, WebSocketLike } from './transport.js';
import { attempt, dropSocket, webSocketTransport } from './transport.js';

/** An Edge's signing key: what the relay client needs of it (the Edge identity satisfies it). */
export interface RelaySigner {
  /** SPKI DER, ECDSA P-256. */
  readonly publicKey: Uint8Array;
  /** ECDSA P-256 / SHA-256, raw 64-byte (P1363) signature. */
  sign(data: Uint8Array): Promise<Uint8Array>;
}

/** How a Frontend proves the Edge let it in: a token the Edge issued, or a one-time pairing ticket. */
export type RelayCredential = { readonly token: string } | { readonly ticket: string };

/** What the relay says about a session it hands to the Edge. */
export interface RelaySessionInfo {
  /** The Frontend the token named (absent for a pairing ticket). Not a proof: check it in the channel. */
  readonly frontendId?: string;
  /** True when the Frontend came with a pairing ticket. */
  readonly pairing: boolean;
}

export type RelayStatus = 'connecting' | 'registered' | 'disconnected' | 'closed';

export interface RelayEdge {
  readonly edgeId: string;
  /** `registered` only while the control connection is registered and answers (see `pingIntervalMs`). */
  readonly status: RelayStatus;
  /**
   * Resolves at the first registration (Frontends can connect from then on); rejects (`CLOSED`)
   * if the listener is closed first. `relayEdgeListener` itself resolves at once and keeps
   * retrying in the background: await `ready` where a Frontend should connect right away.
   */
  readonly ready: Promise<void>;
  /** Called on every status change, with the relay's close reason when it refused or dropped us. */
  onStatus: ((status: RelayStatus, detail?: string) => void) | undefined;
  /**
   * Offers a one-time pairing ticket for `ttlMs`. The relay keeps only its SHA-256, consumed on
   * first use. Resolves when the relay has it (waits for the registration); offered again with
   * its remaining time after a reconnect.
   */
  offerPairing(ticket: string, ttlMs: number): Promise<void>;
  /** The relay cuts this Frontend's sessions and refuses its tokens; re-sent on every registration. */
  revoke(frontendId: string): Promise<void>;
  /** Closes the control connection and every session; no reconnect. */
  close(): Promise<void>;
}

export interface RelayEdgeListenerOptions {
  /** The relay, `ws://host:port` or `wss://host:port`. */
  readonly url: string;
  readonly signer: RelaySigner;
  /** A Frontend session: typically `edge.accept(transport)`, after the encrypted handshake. */
  onSession(transport: Transport, info: RelaySessionInfo): void;
  /** Frontend ids to refuse, asked at every registration (plus those given to `revoke`), e.g. `() => secureEdge.revokedIds()`. */
  readonly revoked?: () => readonly string[] | Promise<readonly string[]>;
  /** WebSocket constructor; default the global `WebSocket` (on Node: `nodeRelayEdgeListener`). */
  readonly WebSocket?: WebSocketConstructor;
  /** Reconnect delays, doubling from `min` to `max` with jitter. Default 100 to 5000 ms. */
  readonly backoff?: { readonly min: number; readonly max: number };
  /** Time for a connection attempt to be registered (or a session socket to open) before it is dropped and retried. Default 20 000 ms. */
  readonly timeoutMs?: number;
  /**
   * Liveness of the registered control connection: a ping every `pingIntervalMs` (a WebSocket
   * ping with the `ws` client, which the relay answers by itself; elsewhere a no-op control
   * request the relay acknowledges). When nothing at all came back for a whole interval after a
   * ping, the connection is dropped and the Edge registers again: a dead relay link (the host
   * gone without a FIN or RST, a NAT mapping dropped) is noticed within 2 x `pingIntervalMs`.
   * 0 disables. Default 10 000 ms.
   */
  readonly pingIntervalMs?: number;
}

export interface RelayConnectorOptions {
  readonly url: string;
  readonly edgeId: string;
  readonly credential: RelayCredential;
  readonly WebSocket?: WebSocketConstructor;
  /** Time for the relay to admit the session (TCP, upgrade, and the Edge's answer). Default 20 000 ms. */
  readonly timeoutMs?: number;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** What the `ws` client adds to the WebSocket API: control-frame pings, answered by the relay's `ws` on its own. */
interface WsExtras {
  ping?(): void;
  on?(event: 'pong', listener: () => void): unknown;
}

/** The relay's close codes a client can see (see `@cse/relay`'s `CloseCode`). */
export const RelayCloseCode = {
  BAD_REQUEST: 4400,
  UNAUTHORIZED: 4401,
  REVOKED: 4403,
  NOT_FOUND: 4404,
  TIMEOUT: 4408,
  REPLACED: 4409,
  GONE: 4410,
  LIMIT: 4429,
  EDGE_UNAVAILABLE: 4502,
} as const;

// The same domain strings as @cse/relay's keys.ts.
const EDGE_REGISTER_DOMAIN = 'cse-relay edge-register v1\n';
const TOKEN_DOMAIN = 'cse-relay token v1\n';
const utf8 = new TextEncoder();

function toBase64Url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

async function sha256(bytes: Uint8Array): Promise<string> {
  return toBase64Url(new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', new Uint8Array(bytes))));
}

/** `base64url(SHA-256(spki))`: the id an Edge registers under at the relay (43 characters). */
export function edgeIdOf(spki: Uint8Array): Promise<string> {
  return sha256(spki);
}

/**
 * A relay access token for one Frontend: the claims, signed with the Edge's key. The relay checks
 * it against the key the Edge registered with; it is a bearer token, so hand it over only inside
 * the encrypted channel. `expiresAt` in ms since the epoch (default: no expiry).
 */
export async function createRelayToken(signer: RelaySigner, claims: { readonly edgeId: string; readonly frontendId: string; readonly expiresAt?: number }): Promise<string> {
  const body = toBase64Url(utf8.encode(JSON.stringify({ edgeId: claims.edgeId, frontendId: claims.frontendId, ...(claims.expiresAt === undefined ? {} : { expiresAt: claims.expiresAt }) })));
  return `${body}.${toBase64Url(await signer.sign(utf8.encode(TOKEN_DOMAIN + body)))}`;
}

function socketOf(Impl: WebSocketConstructor | undefined, url: string): WebSocketLike {
  const C = Impl ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (C === undefined) throw new Error('no WebSocket here: on Node use the relay functions of @cse/sync/node');
  return new C(url);
}

const base = (url: string): string => url.replace(/\/+$/, '');

function parse(data: unknown): Record<string, unknown> | undefined {
  if (typeof data !== 'string') return undefined;
  try {
    const m = JSON.parse(data) as unknown;
    return typeof m === 'object' && m !== null ? (m as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A WebSocket transport that keeps frames arriving before the caller set `onmessage` (the `ws`
 * client may deliver several frames in one tick, right after the relay's `ready`).
 */
function holdingTransport(socket: WebSocketLike, onEnd?: () => void): Transport {
  const inner = webSocketTransport(socket);
  const early: string[] = [];
  let handler: ((frame: string) => void) | undefined;
  inner.onmessage = (frame) => {
    if (handler !== undefined) handler(frame);
    else early.push(frame);
  };
  const t: Transport = {
    send: (frame) => inner.send(frame),
    close: (reason) => inner.close(reason),
    get buffered() {
      return inner.buffered;
    },
    get onmessage() {
      return handler;
    },
    set onmessage(h) {
      handler = h;
      if (h !== undefined && early.length > 0) {
        queueMicrotask(() => {
          while (handler !== undefined && early.length > 0) handler(early.shift() as string);
        });
      }
    },
    onclose: undefined,
  };
  inner.onclose = (reason) => {
    onEnd?.();
    t.onclose?.(reason);
  };
  return t;
}

/**
 * The Frontend's side: a `Connect` that opens a session to `edgeId` through the relay. Rejects
 * with `REVOKED` when the relay refuses a revoked Frontend (close 4403), `FORBIDDEN` for a bad
 * credential or request, `BACKEND` otherwise (`details.closeCode`, `details.reason`), and after
 * `timeoutMs` or on abort as every connector does.
 */
export function relayConnector(options: RelayConnectorOptions): Connect {
  const timeoutMs = options.timeoutMs ?? 20_000;
  return (co) => {
    let socket: WebSocketLike | undefined;
    const giveUp = (why: string): void => {
      if (socket !== undefined) dropSocket(socket, why);
    };
    return attempt<Transport>('relay', timeoutMs, co?.signal, giveUp, (resolve, reject) => {
      const s = socketOf(options.WebSocket, `${base(options.url)}/connect`);
      socket = s;
      s.onopen = () => {
        s.send(JSON.stringify({ t: 'hello', edgeId: options.edgeId, ...options.credential }));
      };
      s.onmessage = (ev) => {
        if (parse(ev.data)?.t === 'ready') resolve(holdingTransport(s));
        else {
          s.close(RelayCloseCode.BAD_REQUEST, 'unexpected frame from the relay');
          reject(new CseError(ErrorCode.PROTOCOL, 'the relay sent something other than ready'));
        }
      };
      s.onerror = () => undefined; // onclose follows with the code
      s.onclose = (ev) => {
        const code = ev.code ?? 1006;
        const reason = ev.reason ?? '';
        const refused = code === RelayCloseCode.UNAUTHORIZED || code === RelayCloseCode.BAD_REQUEST;
        const errorCode = code === RelayCloseCode.REVOKED ? ErrorCode.REVOKED : refused ? ErrorCode.FORBIDDEN : ErrorCode.BACKEND;
        reject(new CseError(errorCode, `relay: ${reason || `cannot connect (${code})`}`, { details: { closeCode: code, reason } }));
      };
    });
  };
}

/** The Edge's side: registers with the relay (reconnecting with backoff) and hands over each Frontend session. */
export async function relayEdgeListener(options: RelayEdgeListenerOptions): Promise<RelayEdge> {
  const edgeId = await edgeIdOf(options.signer.publicKey);
  const backoff = options.backoff ?? { min: 100, max: 5000 };
  const url = base(options.url);
  const revoked = new Set<string>();
  /** Ticket hash -> expiry: offered again after a reconnect (the relay forgets on restart). */
  const offers = new Map<string, number>();
  const waiting = new Map<number, { frame: Record<string, unknown>; done: () => void; fail: (e: Error) => void }>();
  const sessions = new Set<Transport>();
  let nextId = 1;
  let control: WebSocketLike | undefined;
  let registered = false;
  let closed = false;
  let delay = backoff.min;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeoutMs = options.timeoutMs ?? 20_000;
  const pingIntervalMs = options.pingIntervalMs ?? 10_000;
  let registerTimer: ReturnType<typeof setTimeout> | undefined;
  let liveness: ReturnType<typeof setInterval> | undefined;
  /** A ping went out and nothing came back since. */
  let awaiting = false;
  let markReady: () => void = () => undefined;
  let failReady: (e: Error) => void = () => undefined;
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    failReady = reject;
  });
  ready.catch(() => undefined); // nobody has to await it

  let status: RelayStatus = 'connecting';
  const setStatus = (next: RelayStatus, detail?: string): void => {
    status = next;
    relay.onStatus?.(next, detail);
  };

  const send = (m: Record<string, unknown>): void => {
    if (control !== undefined && registered && control.readyState === 1) control.send(JSON.stringify(m));
  };

  const openSession = (m: Record<string, unknown>): void => {
    if (typeof m.sid !== 'string') return;
    const info: RelaySessionInfo = { pairing: m.pairing === true, ...(typeof m.frontendId === 'string' ? { frontendId: m.frontendId } : {}) };
    // A relay fleet names the node holding the Frontend (its public address; never a downgrade
    // from wss to ws); one relay does not.
    const at = typeof m.url === 'string' && /^wss?:\/\/[^/]+\/?$/.test(m.url) && (m.url.startsWith('wss:') || !url.startsWith('wss:')) ? base(m.url) : url;
    let socket: WebSocketLike;
    try {
      socket = socketOf(options.WebSocket, `${at}/session`);
    } catch {
      return;
    }
    const sid = m.sid;
    // A relay that stops answering while the session opens: give the socket up (the relay
    // gives up on its side after its own handshake timeout).
    const openTimer = setTimeout(() => dropSocket(socket, 'session open timeout'), timeoutMs);
    socket.onerror = () => undefined;
    socket.onclose = () => clearTimeout(openTimer);
    socket.onopen = () => {
      clearTimeout(openTimer);
      socket.send(JSON.stringify({ t: 'accept', sid }));
      const t: Transport = holdingTransport(socket, () => sessions.delete(t));
      sessions.add(t);
      options.onSession(t, info);
    };
  };

  /** The control connection `socket` is over (closed, or given up on): reconnect after a backoff delay. */
  const lost = (socket: WebSocketLike, detail: string): void => {
    if (control !== socket) return;
    control = undefined;
    registered = false;
    stopTimers();
    // The relay ends a registration's sessions with its control connection: so do we, at once.
    for (const t of [...sessions]) t.close('relay connection lost');
    if (closed) return;
    setStatus('disconnected', detail);
    const wait = delay * (0.5 + Math.random() / 2);
    delay = Math.min(backoff.max, delay * 2);
    timer = setTimeout(connect, wait);
  };

  /** Gives up on a control connection that stopped answering (no FIN or RST needed). */
  const abandon = (socket: WebSocketLike, detail: string): void => {
    dropSocket(socket, detail);
    lost(socket, detail);
  };

  const startLiveness = (socket: WebSocketLike & WsExtras): void => {
    if (pingIntervalMs <= 0) return;
    const nativePing = typeof socket.ping === 'function' && typeof socket.on === 'function';
    if (nativePing) {
      socket.on?.('pong', () => {
        awaiting = false;
      });
    }
    awaiting = false;
    liveness = setInterval(() => {
      if (awaiting) {
        abandon(socket, `no answer from the relay within ${pingIntervalMs} ms`);
        return;
      }
      awaiting = true;
      try {
        if (nativePing) socket.ping?.();
        // Without a ping API (a browser), an offer of an unguessable ticket for 1 ms: the relay acks it.
        else socket.send(JSON.stringify({ t: 'offer', id: nextId++, ticketHash: toBase64Url(globalThis.crypto.getRandomValues(new Uint8Array(32))), ttlMs: 1 }));
      } catch {
        abandon(socket, 'cannot ping the relay');
      }
    }, pingIntervalMs);
  };

  const stopTimers = (): void => {
    if (liveness !== undefined) clearInterval(liveness);
    if (registerTimer !== undefined) clearTimeout(registerTimer);
    liveness = undefined;
    registerTimer = undefined;
  };

  const connect = (): void => {
    if (closed) return;
    setStatus('connecting');
    let socket: WebSocketLike;
    try {
      socket = socketOf(options.WebSocket, `${url}/edge`);
    } catch (e) {
      setStatus('disconnected', (e as Error).message);
      return;
    }
    control = socket;
    // Covers the TCP connection, the upgrade and the registration: a relay that accepts and never answers is given up.
    registerTimer = setTimeout(() => {
      if (!registered && control === socket) abandon(socket, 'registration timeout');
    }, timeoutMs);
    socket.onerror = () => undefined;
    socket.onmessage = (ev) => {
      awaiting = false;
      const m = parse(ev.data);
      if (m === undefined) return;
      if (m.t === 'challenge' && typeof m.nonce === 'string') {
        const nonce = m.nonce;
        void (async () => {
          const revokedNow = [...new Set([...revoked, ...((await options.revoked?.()) ?? [])])];
          const sig = await options.signer.sign(utf8.encode(EDGE_REGISTER_DOMAIN + nonce));
          if (socket.readyState === 1) socket.send(JSON.stringify({ t: 'register', publicKey: toBase64Url(options.signer.publicKey), signature: toBase64Url(sig), revoked: revokedNow }));
        })().catch(() => socket.close(1000, 'cannot sign'));
      } else if (m.t === 'registered') {
        if (control !== socket) return;
        registered = true;
        delay = backoff.min;
        stopTimers();
        startLiveness(socket as WebSocketLike & WsExtras);
        setStatus('registered');
        markReady();
        const now = Date.now();
        for (const [hash, exp] of offers) {
          if (exp <= now) offers.delete(hash);
          else send({ t: 'offer', id: nextId++, ticketHash: hash, ttlMs: exp - now });
        }
        for (const [id, w] of waiting) send({ ...w.frame, id });
      } else if (m.t === 'session') openSession(m);
      else if ((m.t === 'ack' || m.t === 'nack') && typeof m.id === 'number') {
        const w = waiting.get(m.id);
        waiting.delete(m.id);
        if (m.t === 'ack') w?.done();
        else w?.fail(new CseError(ErrorCode.BACKEND, `relay: ${String(m.reason)}`));
      }
    };
    socket.onclose = (ev) => lost(socket, ev.reason || `closed (${ev.code ?? 'no code'})`);
  };

  const request = (frame: Record<string, unknown>): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      if (closed) {
        reject(new CseError(ErrorCode.CLOSED, 'the relay listener is closed'));
        return;
      }
      const id = nextId++;
      waiting.set(id, { frame, done: resolve, fail: reject });
      send({ ...frame, id });
    });

  const relay: RelayEdge = {
    edgeId,
    ready,
    get status() {
      return status;
    },
    onStatus: undefined,
    async offerPairing(ticket, ttlMs) {
      if (typeof ticket !== 'string' || ticket.length === 0 || ticket.length > 512) throw new CseError(ErrorCode.VALIDATION, 'a pairing ticket is a string of 1 to 512 characters');
      if (!Number.isInteger(ttlMs) || ttlMs <= 0) throw new CseError(ErrorCode.VALIDATION, 'ttlMs must be a positive integer');
      const hash = await sha256(utf8.encode(ticket));
      offers.set(hash, Date.now() + ttlMs);
      await request({ t: 'offer', ticketHash: hash, ttlMs });
    },
    async revoke(frontendId) {
      if (typeof frontendId !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(frontendId)) throw new CseError(ErrorCode.VALIDATION, 'a frontend id is 43 base64url characters');
      revoked.add(frontendId);
      await request({ t: 'revoke', frontendId });
    },
    async close() {
      if (closed) return;
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      stopTimers();
      failReady(new CseError(ErrorCode.CLOSED, 'the relay listener was closed before it registered'));
      for (const w of waiting.values()) w.fail(new CseError(ErrorCode.CLOSED, 'the relay listener is closed'));
      waiting.clear();
      control?.close(1000, 'edge closing');
      for (const t of [...sessions]) t.close('edge closing');
      setStatus('closed');
    },
  };
  connect();
  return relay;
}
