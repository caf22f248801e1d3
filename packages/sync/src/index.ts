export type { ClientMessage, EdgeMessage, WireChange } from './protocol.js';
export { DEFAULT_MAX_FRAME, MAX_WORKER_ID, PROTOCOL_VERSION, ProtocolError, decodeClient, decodeEdge, encode } from './protocol.js';
export type { Connect, Transport, WebSocketLike } from './transport.js';
export { memoryPair, webSocketConnector, webSocketTransport } from './transport.js';
export type { EdgeStats, EdgeSyncOptions } from './edge-sync.js';
export { EdgeSession, EdgeSync } from './edge-sync.js';
export type { ConflictInfo, FrontendSyncOptions, Subscription, SyncProgress, SyncStatus } from './frontend-sync.js';
export { FrontendSync, OUTBOX_COLLECTION, REPLICA_COLLECTION, SHADOW_COLLECTION } from './frontend-sync.js';
