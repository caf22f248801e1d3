/**
 * The relay's options and the close codes it uses. Every limit has a default; 0 disables the
 * limits that say so.
 */

export interface RelayOptions {
  /** Interface to listen on. Default `127.0.0.1`: a public relay names its interface explicitly. */
  readonly host?: string;
  /** Port. Default 0 (a free port; read it from `port` or `url`). */
  readonly port?: number;
  /** PEM certificate and key: the relay then serves `wss://` (node:https). Default: plain `ws://`. */
  readonly tls?: { readonly cert: string | Uint8Array; readonly key: string | Uint8Array };
  /** Largest frame in bytes, either direction; a larger one closes that connection (1009). Default 16 MiB. */
  readonly maxFrameBytes?: number;
  /** Frontend sessions (open or being opened) per Edge. Default 64. */
  readonly maxFrontendsPerEdge?: number;
  /** WebSocket connections of every kind. Default 10 000. */
  readonly maxConnections?: number;
  /** A connection that sends nothing (no frame, no pong) for this long is closed (4408). Default 60 000 ms. */
  readonly idleTimeoutMs?: number;
  /** Ping interval; pongs count as traffic, so a live but quiet peer stays. 0 disables. Default 15 000 ms. */
  readonly heartbeatMs?: number;
  /**
   * Bytes queued towards one socket above which the relay stops reading the other end of that
   * stream (TCP backpressure), until the queue halves. Default 1 MiB.
   */
  readonly maxBufferedBytes?: number;
  /** Time to authenticate, and for an Edge to open a session it was asked for. Default 10 000 ms. */
  readonly handshakeTimeoutMs?: number;
  /** Pairing tickets an Edge may have on offer at once. Default 16. */
  readonly maxTicketsPerEdge?: number;
  /** One line per connection event (no payload, no key, no token). Default: nothing is logged. */
  readonly log?: (line: string) => void;
  /**
   * Joins a fleet: `redis://host:port` of the Redis (or of one Cluster node, with `redisCluster`)
   * that holds the fleet's routing and admission state. Default: a single relay, no Redis.
   */
  readonly redis?: string;
  /** `redis` names one node of a Redis Cluster. Default false. */
  readonly redisCluster?: boolean;
  /** Prefix of the fleet's Redis keys and channels (one fleet per prefix). Default `cse-relay:`. */
  readonly redisPrefix?: string;
  /**
   * In a fleet: the address at which Edges reach this node for their data connections (what the
   * load balancer or DNS gives this node). Default: `url`.
   */
  readonly publicUrl?: string;
  /** In a fleet: this node's name (routing id). Default: random. */
  readonly nodeId?: string;
  /** In a fleet: the lease of an Edge's directory entry and of a session's place; renewed every third of it. Default 15 000 ms. */
  readonly leaseMs?: number;
  /** In a fleet: a Redis command taking longer counts as Redis unavailable. Default 2000 ms. */
  readonly redisTimeoutMs?: number;
  /**
   * For tests only (no CLI flag): sees every frame the relay receives and sends, after WebSocket
   * unmasking, auth frames included.
   */
  readonly tap?: (direction: 'in' | 'out', data: Uint8Array) => void;
}

export const DEFAULTS = {
  host: '127.0.0.1',
  port: 0,
  maxFrameBytes: 16 * 1024 * 1024,
  maxFrontendsPerEdge: 64,
  maxConnections: 10_000,
  idleTimeoutMs: 60_000,
  heartbeatMs: 15_000,
  maxBufferedBytes: 1024 * 1024,
  handshakeTimeoutMs: 10_000,
  maxTicketsPerEdge: 16,
  redisPrefix: 'cse-relay:',
  leaseMs: 15_000,
  redisTimeoutMs: 2000,
} as const;

/**
 * WebSocket close codes the relay sends (1009 "message too big" comes from the `ws` package).
 * The reason says what happened; it never echoes what the peer sent.
 */
export const CloseCode = {
  /** A malformed or unexpected auth frame. */
  BAD_REQUEST: 4400,
  /** Authentication failed: bad signature, bad or expired token, unknown ticket, token of another Edge. */
  UNAUTHORIZED: 4401,
  /** The Edge revoked this Frontend. */
  REVOKED: 4403,
  /** No Edge registered under that id, or an unknown session. */
  NOT_FOUND: 4404,
  /** Idle timeout, or authentication took too long. */
  TIMEOUT: 4408,
  /** A newer registration of the same Edge replaced this control connection. */
  REPLACED: 4409,
  /** The other end of the stream went away without a close frame. */
  GONE: 4410,
  /** A connection limit: relay full, or too many Frontends for this Edge. */
  LIMIT: 4429,
  /** The Edge did not open the session in time. */
  EDGE_UNAVAILABLE: 4502,
  /** In a fleet: Redis is unreachable, so this node cannot route to an Edge registered on another node. */
  FLEET_UNAVAILABLE: 4503,
  /** The relay is shutting down. */
  SHUTDOWN: 1001,
} as const;
