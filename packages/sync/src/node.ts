/**
 * Node-only parts (the `ws` package): a WebSocket server for an Edge and a client connector.
 * Browsers use `webSocketConnector` from the main entry with their own `WebSocket`.
 */
import { chmod, readFile, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import type { EdgeSync } from './edge-sync.js';
import { DEFAULT_MAX_FRAME } from './protocol.js';
import { Identity } from './secure/identity.js';
import type { SecureEdge } from './secure/secure-edge.js';
import type { Dial } from './secure/secure-frontend.js';
import type { SecureRelayEdge, SecureRelayEdgeOptions } from './secure/secure-relay.js';
import { relayDial, serveSecureRelay } from './secure/secure-relay.js';
import type { RelayConnectorOptions, RelayEdge, RelayEdgeListenerOptions, WebSocketConstructor } from './relay-transport.js';
import { relayConnector, relayEdgeListener } from './relay-transport.js';
import type { Connect, WebSocketConnectorOptions, WebSocketLike } from './transport.js';
import { webSocketConnector, webSocketTransport } from './transport.js';

export interface EdgeServerOptions {
  /** Default 127.0.0.1: a LAN deployment names its interface explicitly. */
  readonly host?: string;
  /** Default 0 (a free port; read it from `port`). */
  readonly port?: number;
  /** Largest frame in bytes; the socket is closed over it. Default 8 MiB. */
  readonly maxFrameBytes?: number;
  /** Runs the encrypted channel's handshake on every connection first (paired Frontends only). Default: none. */
  readonly secure?: SecureEdge;
  /**
   * Negotiates `permessage-deflate` with clients that offer it (the `ws` client and browsers do)
   * and compresses frames of at least 1 KiB (pages, batches of writes and results; pings, acks
   * and single results are not worth it). Default true; off with `secure`, whose frames are
   * ciphertext (see docs/security.md, "Compression").
   */
  readonly compression?: boolean;
}

/**
 * The deflate settings: a fast level (pages of similar documents compress about as well at 1 as
 * at 6, for a fraction of the CPU), the context kept across frames (the field names of the last
 * page make the next one small), frames under 1 KiB sent as they are.
 */
const DEFLATE = { threshold: 1024, zlibDeflateOptions: { level: 1 }, concurrencyLimit: 4 } as const;

export interface EdgeServer {
  readonly port: number;
  readonly url: string;
  /** Stops accepting, closes every connection. */
  close(): Promise<void>;
}

/** Serves `edge` over WebSocket (for trusted networks; through the relay use the encrypted channel). */
export async function serveEdge(edge: EdgeSync, options: EdgeServerOptions = {}): Promise<EdgeServer> {
  const host = options.host ?? '127.0.0.1';
  const compress = options.compression ?? options.secure === undefined;
  const wss = new WebSocketServer({ host, port: options.port ?? 0, maxPayload: options.maxFrameBytes ?? DEFAULT_MAX_FRAME, perMessageDeflate: compress ? DEFLATE : false });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  wss.on('connection', (socket) => {
    const t = webSocketTransport(socket as unknown as WebSocketLike);
    if (options.secure === undefined) edge.accept(t);
    else options.secure.serve(edge, t);
  });
  const port = (wss.address() as AddressInfo).port;
  return {
    port,
    url: `ws://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  };
}

/**
 * `webSocketConnector` with the `ws` package's client (`timeoutMs`: time to open, default 10 000
 * ms). It offers `permessage-deflate` (as browsers do); the Edge decides (`serveEdge`'s `compression`).
 */
export function nodeWebSocketConnector(url: string, options: Omit<WebSocketConnectorOptions, 'WebSocket'> = {}): Connect {
  class Client extends WebSocket {
    constructor(address: string) {
      super(address, { perMessageDeflate: DEFLATE });
    }
  }
  return webSocketConnector(url, { ...options, WebSocket: Client as unknown as new (url: string) => WebSocketLike });
}

/**
 * The identity kept in the file `path` (a private JWK), created there with mode 0600 if the file
 * does not exist. For an Edge whose key should live outside its store: `SecureEdge.open({ store,
 * identity: await loadIdentityFile('/etc/cse/edge-key.json') })`.
 */
export async function loadIdentityFile(path: string): Promise<Identity> {
  let text: string | undefined;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as { code?: string }).code !== 'ENOENT') throw e;
  }
  if (text !== undefined) return Identity.fromJwk(JSON.parse(text) as JsonWebKey);
  const { identity, jwk } = await Identity.generate();
  try {
    await writeFile(path, JSON.stringify(jwk), { mode: 0o600, flag: 'wx' });
  } catch (e) {
    // Another process created it first: use that one.
    if ((e as { code?: string }).code === 'EEXIST') return loadIdentityFile(path);
    throw e;
  }
  await chmod(path, 0o600);
  return identity;
}

/** `relayConnector` with the `ws` package's client. */
export function nodeRelayConnector(options: Omit<RelayConnectorOptions, 'WebSocket'>): Connect {
  return relayConnector({ ...options, WebSocket: WebSocket as unknown as WebSocketConstructor });
}

/** `relayEdgeListener` with the `ws` package's client. */
export function nodeRelayEdgeListener(options: Omit<RelayEdgeListenerOptions, 'WebSocket'>): Promise<RelayEdge> {
  return relayEdgeListener({ ...options, WebSocket: WebSocket as unknown as WebSocketConstructor });
}

/** `serveSecureRelay` with the `ws` package's client. */
export function nodeServeSecureRelay(options: Omit<SecureRelayEdgeOptions, 'WebSocket'>): Promise<SecureRelayEdge> {
  return serveSecureRelay({ ...options, WebSocket: WebSocket as unknown as WebSocketConstructor });
}

/** `relayDial` with the `ws` package's client (`timeoutMs`: time for the relay to admit the session, default 20 000 ms). */
export function nodeRelayDial(url: string, options: { readonly timeoutMs?: number } = {}): Dial {
  return relayDial(url, WebSocket as unknown as WebSocketConstructor, options);
}

export type { EdgeService, EdgeServiceOptions, EdgeStatus, FrontendStatus } from './edge-service.js';
export { EDGE_SERVICE_COLLECTION, checkRelayTls, edgeStatus, saveServedRegistry, servedRegistry, startEdgeService } from './edge-service.js';
