/**
 * How Frontends reach this Edge: the one file to swap when the transport changes (the page's
 * side is `web/connection.ts`). The Edge dials out to the relay and registers under its key's
 * id; every Frontend session is an end-to-end encrypted channel (`SecureEdge`) that the relay
 * forwards blindly. A Frontend pairs once with a one-time code; after that it comes with the
 * relay token the Edge gave it when it paired.
 */
import type { Store } from '@cse/core';
import type { EdgeSync, RelayStatus } from '@cse/sync';
import { SecureEdge } from '@cse/sync';
import { nodeServeSecureRelay } from '@cse/sync/node';
import type { LinkConfig } from '../shared/link-config.js';

export interface EdgeLinkOptions {
  readonly edge: EdgeSync;
  /** The Edge's store: its identity key and the paired Frontends live in it. */
  readonly store: Store;
  /** The relay, `ws://host:port`. */
  readonly relayUrl: string;
  /** How long a pairing code stays valid. Default 10 minutes. */
  readonly pairingTtlMs?: number;
  /** Called on each change of the Edge's connection to the relay. */
  readonly onStatus?: (status: RelayStatus, detail?: string) => void;
}

export interface EdgeLink {
  /** What the page needs to connect (served as `/config.json`). */
  readonly config: LinkConfig;
  /** A one-time pairing code to show the user. */
  readonly pairingCode: string;
  readonly pairingExpiresAt: number;
  close(): Promise<void>;
}

export async function openEdgeLink(options: EdgeLinkOptions): Promise<EdgeLink> {
  // The identity key is created on the first start and kept in the store: the same Edge id after a restart.
  const secure = await SecureEdge.open({ store: options.store });
  const link = await nodeServeSecureRelay({ url: options.relayUrl, secure, edge: options.edge, backoff: { min: 100, max: 2000 } });
  link.relay.onStatus = options.onStatus;
  // Resolves once the relay holds the code's ticket (offered again after a relay restart).
  const offer = await link.createPairingCode({ ttlMs: options.pairingTtlMs ?? 10 * 60_000, label: 'dashboard' });
  return {
    config: { mode: 'relay', edgeUrl: undefined, edgeId: secure.edgeId, relayUrl: options.relayUrl },
    pairingCode: offer.code,
    pairingExpiresAt: offer.expiresAt,
    close: () => link.close(),
  };
}
