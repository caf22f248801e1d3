/**
 * The encrypted channel through a `cse-relay`: the glue between `SecureEdge`/`SecureFrontend`
 * and the relay transports. The Edge registers with its channel identity (the relay's signer),
 * offers each pairing code's ticket to the relay, runs the handshake on every session the relay
 * hands over, and tells the relay about revocations (also at every re-registration).
 */
import type { EdgeSync } from '../edge-sync.js';
import type { RelayEdge, WebSocketConstructor } from '../relay-transport.js';
import { relayConnector, relayEdgeListener } from '../relay-transport.js';
import type { PairingOffer, SecureEdge } from './secure-edge.js';
import type { Dial } from './secure-frontend.js';

export interface SecureRelayEdgeOptions {
  /** The relay, `ws://host:port` or `wss://host:port`. */
  readonly url: string;
  readonly secure: SecureEdge;
  readonly edge: EdgeSync;
  /** WebSocket constructor; default the global one (on Node: `nodeServeSecureRelay` from `@cse/sync/node`). */
  readonly WebSocket?: WebSocketConstructor;
  /** The relay listener's reconnect delays. Default 100 to 5000 ms. */
  readonly backoff?: { readonly min: number; readonly max: number };
  /** The relay listener's registration timeout (`RelayEdgeListenerOptions.timeoutMs`). Default 20 000 ms. */
  readonly timeoutMs?: number;
  /** The relay listener's liveness ping (`RelayEdgeListenerOptions.pingIntervalMs`). Default 10 000 ms, 0 disables. */
  readonly pingIntervalMs?: number;
}

export interface SecureRelayEdge {
  /** The relay listener; `relay.ready` resolves once the Edge is registered. */
  readonly relay: RelayEdge;
  /** `secure.createPairingCode(...)`, its ticket offered to the relay for the code's lifetime. */
  createPairingCode(options?: { ttlMs?: number; label?: string }): Promise<PairingOffer>;
  /** Leaves the relay (closes its sessions); the SecureEdge and the EdgeSync stay open. */
  close(): Promise<void>;
}

/** Serves `edge` through the relay at `url`, every session behind the encrypted channel. */
export async function serveSecureRelay(options: SecureRelayEdgeOptions): Promise<SecureRelayEdge> {
  const { secure, edge } = options;
  let revoked = await secure.revokedIds();
  const relay = await relayEdgeListener({
    url: options.url,
    signer: secure.identity,
    revoked: () => revoked,
    // What the relay says about the session (its Frontend id) is not trusted: the handshake decides.
    onSession: (transport) => secure.serve(edge, transport),
    ...(options.WebSocket === undefined ? {} : { WebSocket: options.WebSocket }),
    ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    ...(options.pingIntervalMs === undefined ? {} : { pingIntervalMs: options.pingIntervalMs }),
  });
  const stop = secure.onRevoke((frontendId) => {
    revoked = [...revoked, frontendId];
    relay.revoke(frontendId).catch(() => undefined); // re-sent at the next registration anyway
  });
  return {
    relay,
    async createPairingCode(o = {}) {
      const offer = await secure.createPairingCode(o);
      await relay.offerPairing(offer.relayTicket, Math.max(1, Math.ceil(offer.expiresAt - Date.now())));
      return offer;
    },
    async close() {
      stop();
      await relay.close();
    },
  };
}

/**
 * A `Dial` through the relay at `url` (pairing ticket or token, as the channel asks).
 * `timeoutMs`: time for the relay to admit the session (default 20 000 ms).
 */
export function relayDial(url: string, WebSocket?: WebSocketConstructor, options: { readonly timeoutMs?: number } = {}): Dial {
  return (access) =>
    relayConnector({ url, edgeId: access.edgeId, credential: access.credential, ...(WebSocket === undefined ? {} : { WebSocket }), ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }) })(access);
}
