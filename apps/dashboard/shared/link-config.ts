/** What the dashboard page is told about how to reach the Edge (`/config.json`). */
export interface LinkConfig {
  /** `direct`: a WebSocket straight to the Edge; `relay`: through the relay, end-to-end encrypted. */
  readonly mode: 'direct' | 'relay';
  /** The Edge's WebSocket (direct mode). */
  readonly edgeUrl: string | undefined;
  /** The Edge's id (its key fingerprint; relay mode). */
  readonly edgeId: string | undefined;
  /** The relay's WebSocket (relay mode). */
  readonly relayUrl: string | undefined;
  /** The schema version of `machine` the page runs (S12); absent: the build's `SCHEMA_VERSION`. Set by `npm start -- --schema`. */
  readonly schema?: number;
  /** Every Edge the launcher runs (`npm start --edges n`), the first one included; absent with one Edge. */
  readonly edges?: readonly LinkConfig[];
}

/** The IndexedDB database of this Edge's replica (one per Edge, so a new Edge never mixes with an old one). */
export function databaseName(config: LinkConfig): string {
  return config.edgeId === undefined ? 'cse-dashboard' : `cse-dashboard-${config.edgeId.slice(0, 16)}`;
}
