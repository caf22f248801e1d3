/**
 * How the page reaches the Edge: the one file to swap when the transport changes (the Edge's side
 * is `server/edge-link.ts`). Today: a direct WebSocket to the Edge (`webSocketConnector`); no
 * pairing is needed on it.
 */
import type { Store } from '@cse/core';
import type { Connect } from '@cse/sync';
import { webSocketConnector } from '@cse/sync';
import type { LinkConfig } from '../shared/link-config.js';

export interface Link {
  /** One line for the header: how this page reaches its Edge. */
  readonly description: string;
  /** False until this browser has paired with the Edge (kept in the replica's store). */
  readonly paired: boolean;
  /** Pairs with the code `npm start` printed; throws a typed error on a wrong or used code. */
  pair(code: string): Promise<void>;
  /** Opens one connection (FrontendSync calls it again after each disconnect). */
  readonly connect: Connect;
}

/** The IndexedDB database of this Edge's replica (one per Edge, so a new Edge never mixes with an old one). */
export function databaseName(config: LinkConfig): string {
  return config.edgeId === undefined ? 'cse-dashboard' : `cse-dashboard-${config.edgeId.slice(0, 16)}`;
}

export function openLink(config: LinkConfig, _store: Store): Promise<Link> {
  const url = config.edgeUrl;
  if (url === undefined) throw new Error('the Edge gave no WebSocket address');
  return Promise.resolve({
    description: `direct WebSocket to the Edge (${url})`,
    paired: true,
    pair: () => Promise.resolve(),
    connect: webSocketConnector(url),
  });
}
