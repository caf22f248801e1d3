/** What the Edge process tells the launcher over IPC. */
import type { LinkConfig } from '../shared/link-config.js';

export interface EdgeReady {
  readonly t: 'ready';
  readonly config: LinkConfig;
  /** A one-time pairing code for this run. */
  readonly pairingCode: string;
  readonly pairingExpiresAt: number;
  readonly lastSyncId: number;
}

export function isEdgeReady(m: unknown): m is EdgeReady {
  return typeof m === 'object' && m !== null && (m as { t?: unknown }).t === 'ready';
}
