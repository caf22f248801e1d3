/**
 * How Frontends reach this Edge: the one file to swap when the transport changes (the page's
 * side is `web/connection.ts`). The Edge dials out to the relay and registers under its key's
 * id; every Frontend session is an end-to-end encrypted channel (`SecureEdge`) that the relay
 * forwards blindly. A Frontend pairs once with a one-time code; after that it comes with the
 * relay token the Edge gave it when it paired.
 */
import type { Store } from '@cse/core';
import { isCseError } from '@cse/core';
import type { EdgeSync, RelayStatus } from '@cse/sync';
import { SecureEdge, createRelayToken } from '@cse/sync';
import { nodeRelayEdgeListener } from '@cse/sync/node';
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
  const ttlMs = options.pairingTtlMs ?? 10 * 60_000;
  const channel: SecureEdge = await SecureEdge.open({
    store: options.store,
    // Runs only when a Frontend pairs, long after `channel` is set.
    issueRelayToken: (frontendId) => createRelayToken(channel.identity, { edgeId: channel.edgeId, frontendId }),
  });
  let revoked = await channel.revokedIds();
  channel.onRevoke(() => {
    void channel.revokedIds().then((ids) => (revoked = ids));
  });
  const relay = await nodeRelayEdgeListener({
    url: options.relayUrl,
    signer: channel.identity,
    onSession: (transport) => channel.serve(options.edge, transport),
    revoked: () => revoked,
    backoff: { min: 100, max: 2000 },
  });
  relay.onStatus = options.onStatus;
  const offer = await channel.createPairingCode({ ttlMs, label: 'dashboard' });
  // The relay admits one pairing connection with this ticket; offered again after a relay restart.
  relay.offerPairing(offer.relayTicket, ttlMs).catch((e: unknown) => {
    if (!isCseError(e, 'CLOSED')) console.error(`edge: the relay did not take the pairing ticket: ${e instanceof Error ? e.message : String(e)}`);
  });
  return {
    config: { mode: 'relay', edgeUrl: undefined, edgeId: channel.edgeId, relayUrl: options.relayUrl },
    pairingCode: offer.code,
    pairingExpiresAt: offer.expiresAt,
    close: () => relay.close(),
  };
}
