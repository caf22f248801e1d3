/**
 * An Edge as a service (Node): the encrypted channel through a relay and/or a direct WebSocket,
 * pairing codes made by any process on the same store offered to the relay within a second,
 * grants and revocations made elsewhere applied at once, and one log line per session start and
 * end (the Frontend's label and grant, never data). `cse-edge serve` and `npm start`'s Edge both
 * run this.
 */
import { statSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import type { Registry, Store } from '@cse/core';
import { CseError, ErrorCode, RECEIPT_COLLECTION, Replica, SyncState, Tier, TriangularStore } from '@cse/core';
import { WebSocket } from 'ws';
import { EdgeSync } from './edge-sync.js';
import type { Grant } from './grants.js';
import { describeGrant } from './grants.js';
import type { EdgeServer } from './node.js';
import { serveEdge } from './node.js';
import type { RelayEdge, RelayStatus, WebSocketConstructor } from './relay-transport.js';
import type { PairedFrontend, PairingCodeOptions, PairingOffer } from './secure/secure-edge.js';
import { SecureEdge } from './secure/secure-edge.js';
import { serveSecureRelay } from './secure/secure-relay.js';

/** What the Edge service keeps beside the channel state: the registry it serves and when each Frontend was last seen. */
export const EDGE_SERVICE_COLLECTION = '_cse_edge';
const REGISTRY_ID = 'registry';
const seenId = (frontendId: string): string => `seen.${frontendId}`;

export interface EdgeServiceOptions {
  readonly store: Store;
  readonly registry: Registry;
  /** Default: a new `EdgeSync` on `store` and `registry`. */
  readonly edge?: EdgeSync;
  /** The relay, `ws://` or `wss://`. */
  readonly relay?: string;
  /** A direct WebSocket listener (LAN), encrypted channel too. */
  readonly direct?: { readonly host: string; readonly port: number };
  /** PEM certificate(s) to trust for a `wss://` relay, besides the system ones and `NODE_EXTRA_CA_CERTS`. */
  readonly ca?: string;
  /** One line per event (session start and end, relay status). Default none. */
  readonly log?: (line: string) => void;
  readonly onRelayStatus?: (status: RelayStatus, detail?: string) => void;
  /** How often the store is checked for what other processes did. Default 250 ms. */
  readonly followIntervalMs?: number;
  /** Relay reconnect delays. Default 100 to 5000 ms. */
  readonly backoff?: { readonly min: number; readonly max: number };
}

export interface EdgeService {
  readonly secure: SecureEdge;
  readonly edge: EdgeSync;
  readonly relay: RelayEdge | undefined;
  readonly direct: EdgeServer | undefined;
  /** A pairing code, its ticket offered to the relay before this resolves. */
  createPairingCode(options?: PairingCodeOptions): Promise<PairingOffer>;
  /** Stops serving (the store stays open: it is the caller's). */
  close(): Promise<void>;
}

/** A `ws` client trusting `ca` too. */
function webSocketWith(ca: string | undefined): WebSocketConstructor {
  if (ca === undefined) return WebSocket as unknown as WebSocketConstructor;
  class CaWebSocket extends WebSocket {
    constructor(url: string) {
      super(url, { ca });
    }
  }
  return CaWebSocket as unknown as WebSocketConstructor;
}

/**
 * Checks that a `wss://` relay's certificate verifies (a `ws://` one passes). Rejects with a
 * `BACKEND` error that says what to do, instead of the WebSocket's bare `closed (1006)`.
 */
export function checkRelayTls(url: string, ca?: string, timeoutMs = 10_000): Promise<void> {
  const u = new URL(url);
  if (u.protocol !== 'wss:') return Promise.resolve();
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return new Promise<void>((resolve, reject) => {
    const socket = tlsConnect({ host, port: Number(u.port || 443), servername: /^[\d.:]+$/.test(host) ? undefined : host, ...(ca === undefined ? {} : { ca }) });
    const done = (e?: Error): void => {
      socket.destroy();
      clearTimeout(timer);
      if (e === undefined) resolve();
      else reject(e);
    };
    const timer = setTimeout(() => done(new CseError(ErrorCode.BACKEND, `relay ${u.host}: no TLS handshake within ${timeoutMs} ms`)), timeoutMs);
    socket.once('secureConnect', () => done());
    socket.once('error', (e: Error & { code?: string }) => {
      const cert = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME/.test(e.code ?? '');
      done(
        new CseError(
          ErrorCode.BACKEND,
          cert
            ? `relay ${u.host}: its TLS certificate does not verify (${e.code ?? e.message}); trust its CA with --ca <file.pem> or NODE_EXTRA_CA_CERTS=<file.pem>`
            : `relay ${u.host}: cannot connect (${e.code ?? e.message})`,
        ),
      );
    });
  });
}

/** Remembers the registry in the store, so other processes (`cse-edge pair --types`) check names against it. */
export async function saveServedRegistry(store: Store, registry: Registry): Promise<void> {
  await new Replica(store).commit([{ collection: EDGE_SERVICE_COLLECTION, id: REGISTRY_ID, kind: 'put', body: { collections: registry.list().map((m) => ({ name: m.name, workerType: m.workerType, role: m.role })) } }]);
}

/** The registry the serving process recorded, if any. */
export async function servedRegistry(store: Store): Promise<{ name: string; workerType: string; role: string }[] | undefined> {
  const [r] = await new Replica(store).getMany([{ collection: EDGE_SERVICE_COLLECTION, id: REGISTRY_ID }]);
  return r === undefined || r.deleted ? undefined : (r.doc.collections as { name: string; workerType: string; role: string }[]);
}

export async function startEdgeService(options: EdgeServiceOptions): Promise<EdgeService> {
  const { store, registry } = options;
  const log = options.log ?? (() => undefined);
  const edge = options.edge ?? new EdgeSync({ store, registry, triangular: new TriangularStore(store, registry) });
  const secure = await SecureEdge.open({ store });
  const replica = new Replica(store);
  await saveServedRegistry(store, registry);
  const seen = (frontendId: string, body: Record<string, unknown>): void => {
    replica.commit([{ collection: EDGE_SERVICE_COLLECTION, id: seenId(frontendId), kind: 'put', body: { ...body, at: Date.now() } }]).catch(() => undefined);
  };
  const stopSessions = secure.onSession((session, info) => {
    const who = `${info.label ?? 'unlabelled'} (${info.frontendId.slice(0, 8)})`;
    log(`session start: ${who}, ${describeGrant(info.grant)}`);
    seen(info.frontendId, { live: true });
    void session.ended.then((reason) => {
      log(`session end: ${who}: ${reason}`);
      seen(info.frontendId, { live: false });
    });
  });
  const stopGrants = secure.onGrant((frontendId, grant: Grant) => log(`grant changed: ${frontendId.slice(0, 8)}, ${describeGrant(grant)}`));
  const stopRevokes = secure.onRevoke((frontendId) => log(`revoked: ${frontendId.slice(0, 8)}`));

  let link: Awaited<ReturnType<typeof serveSecureRelay>> | undefined;
  if (options.relay !== undefined) {
    await checkRelayTls(options.relay, options.ca);
    link = await serveSecureRelay({ url: options.relay, secure, edge, WebSocket: webSocketWith(options.ca), ...(options.backoff ? { backoff: options.backoff } : {}) });
    link.relay.onStatus = options.onRelayStatus;
  }
  const direct = options.direct === undefined ? undefined : await serveEdge(edge, { host: options.direct.host, port: options.direct.port, secure });
  const offered = new Set<string>();
  const offer = async (ticket: string | undefined, expiresAt: number): Promise<void> => {
    if (link === undefined || ticket === undefined || offered.has(ticket)) return;
    offered.add(ticket);
    await link.relay.offerPairing(ticket, Math.max(1, Math.ceil(expiresAt - Date.now())));
  };
  const stopFollow = secure.followStore({
    intervalMs: options.followIntervalMs ?? 250,
    onPairing: (p) => {
      // Not awaited: the offer waits for the relay registration, and the follower must not.
      offer(p.relayTicket, p.expiresAt).catch(() => undefined);
    },
  });
  return {
    secure,
    edge,
    relay: link?.relay,
    direct,
    async createPairingCode(o = {}) {
      const p = await secure.createPairingCode(o);
      await offer(p.relayTicket, p.expiresAt);
      return p;
    },
    async close() {
      stopFollow();
      stopSessions();
      stopGrants();
      stopRevokes();
      await link?.close();
      await direct?.close();
      if (options.edge === undefined) await edge.close();
    },
  };
}

export interface FrontendStatus extends PairedFrontend {
  /** When its last session started or ended (ms since the epoch), if this store has seen one. */
  readonly lastSeen: number | undefined;
  readonly live: boolean;
}

export interface EdgeStatus {
  readonly edgeId: string;
  readonly lastSyncId: number;
  readonly frontends: FrontendStatus[];
  /** Each replica's acknowledged cursor and how many changes it is behind. */
  readonly replicas: { readonly replica: string; readonly cursor: number; readonly lag: number; readonly updatedAt: number }[];
  /** Write receipts kept (so a write sent again is applied once). */
  readonly receipts: number;
  /** Bytes of the store's files, for a file store. */
  readonly storeBytes: number | undefined;
}

/** What `cse-edge status` shows, read from the store alone (works while another process serves). */
export async function edgeStatus(store: Store, registry: Registry, file?: string): Promise<EdgeStatus> {
  const secure = await SecureEdge.open({ store });
  const replica = new Replica(store);
  const seenRecords = new Map((await replica.scan(EDGE_SERVICE_COLLECTION)).filter((r) => !r.deleted && r.id.startsWith('seen.')).map((r) => [r.id.slice(5), r.doc]));
  const lastSyncId = await store.lastSyncId();
  const frontends = (await secure.listPaired()).map((p) => {
    const s = seenRecords.get(p.frontendId);
    return { ...p, lastSeen: typeof s?.at === 'number' ? s.at : undefined, live: s?.live === true && !p.revoked };
  });
  const peers = await new SyncState(store, registry).listPeers(Tier.Edge);
  const receipts = (await replica.scan(RECEIPT_COLLECTION)).filter((r) => !r.deleted).length;
  let storeBytes: number | undefined;
  if (file !== undefined) {
    storeBytes = 0;
    for (const f of [file, `${file}-wal`]) {
      try {
        storeBytes += statSync(f).size;
      } catch {
        // no such file (no WAL right now)
      }
    }
  }
  return {
    edgeId: secure.edgeId,
    lastSyncId,
    frontends,
    replicas: peers.map((p) => ({ replica: p.peer, cursor: p.syncedThrough, lag: Math.max(0, lastSyncId - p.syncedThrough), updatedAt: p.updatedAt })),
    receipts,
    storeBytes,
  };
}
