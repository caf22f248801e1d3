/**
 * How the page reaches the Edge: the one file to swap when the transport changes (the Edge's side
 * is `server/edge-link.ts`). Through the relay, end to end encrypted: `SecureFrontend` keeps this
 * browser's key and, once paired, the Edge's key and relay token in the replica's IndexedDB, so a
 * reload connects without pairing again.
 */
import type { Store } from '@cse/core';
import type { Connect } from '@cse/sync';
import { SecureFrontend, parsePairingCode, relayDial } from '@cse/sync';
import type { LinkConfig } from '../shared/link-config.js';

export interface Link {
  /** One line for the header: how this page reaches its Edge. */
  readonly description: string;
  /** This browser's id on the Edge (as the Edge lists its paired browsers). */
  readonly frontendId: string;
  /** False until this browser has paired with the Edge (kept in the replica's store). */
  readonly paired: boolean;
  /** Pairs with the code `npm start` printed; throws a typed error on a wrong or used code. */
  pair(code: string): Promise<void>;
  /** Opens one connection (FrontendSync calls it again after each disconnect). */
  readonly connect: Connect;
}

export async function openLink(config: LinkConfig, store: Store): Promise<Link> {
  const { relayUrl, edgeId } = config;
  if (relayUrl === undefined || edgeId === undefined) throw new Error('the dashboard server gave no relay address or Edge id');
  const secure = await SecureFrontend.open({ store });
  const dial = relayDial(relayUrl);
  return {
    description: `relay at ${relayUrl} (end-to-end encrypted) · Edge ${edgeId.slice(0, 8)}…`,
    get frontendId() {
      return secure.frontendId;
    },
    get paired() {
      return secure.pairing?.edgeId === edgeId;
    },
    async pair(code) {
      if (parsePairingCode(code).edgeId !== edgeId) throw new Error('this pairing code is for another Edge');
      await secure.pair(code.trim(), dial);
    },
    connect: secure.connector(dial),
  };
}
