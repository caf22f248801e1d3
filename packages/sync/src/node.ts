/**
 * Node-only parts (the `ws` package): a WebSocket server for an Edge and a client connector.
 * Browsers use `webSocketConnector` from the main entry with their own `WebSocket`.
 */
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import type { EdgeSync } from './edge-sync.js';
import { DEFAULT_MAX_FRAME } from './protocol.js';
import type { RelayConnectorOptions, RelayEdge, RelayEdgeListenerOptions, WebSocketConstructor } from './relay-transport.js';
import { relayConnector, relayEdgeListener } from './relay-transport.js';
import type { Connect, WebSocketLike } from './transport.js';
import { webSocketConnector, webSocketTransport } from './transport.js';

export interface EdgeServerOptions {
  /** Default 127.0.0.1: a LAN deployment names its interface explicitly. */
  readonly host?: string;
  /** Default 0 (a free port; read it from `port`). */
  readonly port?: number;
  /** Largest frame in bytes; the socket is closed over it. Default 8 MiB. */
  readonly maxFrameBytes?: number;
}

export interface EdgeServer {
  readonly port: number;
  readonly url: string;
  /** Stops accepting, closes every connection. */
  close(): Promise<void>;
}

/** Serves `edge` over WebSocket (for trusted networks; through the relay use the encrypted channel). */
export async function serveEdge(edge: EdgeSync, options: EdgeServerOptions = {}): Promise<EdgeServer> {
  const host = options.host ?? '127.0.0.1';
  const wss = new WebSocketServer({ host, port: options.port ?? 0, maxPayload: options.maxFrameBytes ?? DEFAULT_MAX_FRAME });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  wss.on('connection', (socket) => {
    edge.accept(webSocketTransport(socket as unknown as WebSocketLike));
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

/** `webSocketConnector` with the `ws` package's client. */
export function nodeWebSocketConnector(url: string): Connect {
  return webSocketConnector(url, WebSocket as unknown as new (url: string) => WebSocketLike);
}

/** `relayConnector` with the `ws` package's client. */
export function nodeRelayConnector(options: Omit<RelayConnectorOptions, 'WebSocket'>): Connect {
  return relayConnector({ ...options, WebSocket: WebSocket as unknown as WebSocketConstructor });
}

/** `relayEdgeListener` with the `ws` package's client. */
export function nodeRelayEdgeListener(options: Omit<RelayEdgeListenerOptions, 'WebSocket'>): Promise<RelayEdge> {
  return relayEdgeListener({ ...options, WebSocket: WebSocket as unknown as WebSocketConstructor });
}
