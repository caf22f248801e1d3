/**
 * How Frontends reach this Edge: the one file to swap when the transport changes (the page's
 * side is `web/connection.ts`). The Edge dials out to the relay and registers under its key's
 * id; every Frontend session is an end-to-end encrypted channel (`SecureEdge`) that the relay
 * forwards blindly. A Frontend pairs once with a one-time code; after that it comes with the
 * relay token the Edge gave it when it paired. This is `cse-edge serve`'s code path
 * (`startEdgeService`): codes made by `cse-edge pair` on the same store work here too, and the
 * code printed at start is an `admin` grant (that browser can make `viewer` and `operator` codes
 * for other browsers from the page).
 */
import type { Store } from '@cse/core';
import type { EdgeSync, RelayStatus } from '@cse/sync';
import { grantPreset } from '@cse/sync';
import { startEdgeService } from '@cse/sync/node';
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
  /** One line per session start and end (the Frontend's label and grant, never data). */
  readonly log?: (line: string) => void;
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
  const service = await startEdgeService({
    store: options.store,
    registry: options.edge.registry,
    edge: options.edge,
    relay: options.relayUrl,
    backoff: { min: 100, max: 2000 },
    ...(options.onStatus ? { onRelayStatus: options.onStatus } : {}),
    ...(options.log ? { log: options.log } : {}),
  });
  // Resolves once the relay holds the code's ticket (offered again after a relay restart).
  const offer = await service.createPairingCode({ ttlMs: options.pairingTtlMs ?? 10 * 60_000, grant: grantPreset('admin', { label: 'dashboard' }) });
  return {
    config: { mode: 'relay', edgeUrl: undefined, edgeId: service.secure.edgeId, relayUrl: options.relayUrl },
    pairingCode: offer.code,
    pairingExpiresAt: offer.expiresAt,
    close: () => service.close(),
  };
}
