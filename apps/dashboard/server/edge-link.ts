/**
 * How Frontends reach this Edge: the one file to swap when the transport changes (the page's
 * side is `web/connection.ts`). Today: a direct WebSocket on loopback (`serveEdge`).
 */
import type { EdgeSync } from '@cse/sync';
import { serveEdge } from '@cse/sync/node';
import type { LinkConfig } from '../shared/link-config.js';

export interface EdgeLinkOptions {
  readonly edge: EdgeSync;
  readonly host: string;
  /** The WebSocket port Frontends connect to. */
  readonly port: number;
}

export interface EdgeLink {
  /** What the page needs to connect (served as `/config.json`). */
  readonly config: LinkConfig;
  /** A one-time pairing code to show the user, when the link needs one. */
  readonly pairingCode: string | undefined;
  close(): Promise<void>;
}

export async function openEdgeLink(options: EdgeLinkOptions): Promise<EdgeLink> {
  const server = await serveEdge(options.edge, { host: options.host, port: options.port });
  return {
    config: { mode: 'direct', edgeUrl: server.url, edgeId: undefined, relayUrl: undefined },
    pairingCode: undefined,
    close: () => server.close(),
  };
}
