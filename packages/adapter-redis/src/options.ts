import type { Cluster, ClusterOptions, RedisOptions } from 'ioredis';
import type { Redis } from 'ioredis';
import { ValidationError } from '@cse/core';

/** Default `commandTimeoutMs`: how long a command of a client the adapter created may take. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 5_000;

/** Options of `new RedisAdapter(options)`. Give exactly one of `client` and `url`. */
export interface RedisAdapterOptions {
  /**
   * An ioredis client (`Redis` or `Cluster`) you created. You keep owning it: `close()` leaves it
   * open. Configure it yourself to fail fast when the server is gone (see `clientOptions`).
   */
  readonly client?: Redis | Cluster;
  /**
   * `redis://[user:password@]host:port[/db]` or `rediss://...` (TLS). The adapter creates the
   * client with `clientOptions` and closes it on `close()`.
   */
  readonly url?: string;
  /** Use a Redis Cluster client for `url`, with `url`'s host as the seed node. Default `false`. */
  readonly cluster?: boolean;
  /**
   * Required. Names the store on the server: two namespaces never see each other's documents
   * or counters. Any well-formed string of 1 to 256 characters.
   */
  readonly namespace: string;
  /** For a client created from `url`: the per-command timeout in ms. Default 5000. */
  readonly commandTimeoutMs?: number;
}

/**
 * The client options the adapter uses for `url`, chosen so a lost server gives a quick
 * `BACKEND` error instead of a hang, and never a commit run twice:
 * - `maxRetriesPerRequest: 0`: a command queued while disconnected fails at the next failed
 *   reconnect attempt (every 50 to 500 ms) instead of waiting for the server to return;
 * - `autoResendUnfulfilledCommands: false`: a command whose reply was lost is not sent again
 *   after reconnecting (a commit might already have been applied);
 * - `commandTimeout`: bounds a command sent to a server that stopped answering.
 * The client reconnects by itself: the same adapter works again once the server is back.
 */
export function clientOptions(commandTimeoutMs: number = DEFAULT_COMMAND_TIMEOUT_MS): RedisOptions {
  return {
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    commandTimeout: commandTimeoutMs,
    connectTimeout: commandTimeoutMs,
    retryStrategy: (times) => Math.min(times * 50, 500),
  };
}

/** The same for a Cluster client. */
export function clusterOptions(commandTimeoutMs: number = DEFAULT_COMMAND_TIMEOUT_MS): ClusterOptions {
  return {
    redisOptions: clientOptions(commandTimeoutMs),
    clusterRetryStrategy: (times) => Math.min(times * 50, 500),
    maxRedirections: 16,
  };
}

/** What a store URL says. */
export interface ParsedRedisUrl {
  /** The URL for ioredis, without the CSE parameters. */
  readonly url: string;
  readonly namespace: string;
  readonly cluster: boolean;
  readonly commandTimeoutMs: number;
}

/**
 * Parses `redis://127.0.0.1:6379/?namespace=plant-a` (or `rediss:`). Query parameters:
 * `namespace` (required), `cluster` (`true`/`1`: use a Cluster client; default false),
 * `commandTimeout` (ms, default 5000). Other parameters go to ioredis unchanged.
 *
 * @throws `VALIDATION` for another scheme, a missing namespace or a bad parameter.
 */
export function parseRedisUrl(url: string): ParsedRedisUrl {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (e) {
    throw new ValidationError(`${JSON.stringify(url)} is not a valid Redis URL`, { cause: e });
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new ValidationError(`a Redis store URL starts with redis: or rediss:, got ${JSON.stringify(parsed.protocol)}`);
  }
  const params = parsed.searchParams;
  const namespace = params.get('namespace');
  if (namespace === null || namespace === '') {
    throw new ValidationError(`${JSON.stringify(url)} has no namespace: add ?namespace=<name>`);
  }
  const cluster = params.get('cluster') ?? 'false';
  if (!['true', 'false', '1', '0'].includes(cluster)) {
    throw new ValidationError(`cluster must be true or false, got ${JSON.stringify(cluster)}`);
  }
  const timeout = params.get('commandTimeout') ?? String(DEFAULT_COMMAND_TIMEOUT_MS);
  const commandTimeoutMs = Number(timeout);
  if (!Number.isSafeInteger(commandTimeoutMs) || commandTimeoutMs <= 0) {
    throw new ValidationError(`commandTimeout must be a positive number of ms, got ${JSON.stringify(timeout)}`);
  }
  for (const name of ['namespace', 'cluster', 'commandTimeout']) params.delete(name);
  return { url: parsed.toString(), namespace, cluster: cluster === 'true' || cluster === '1', commandTimeoutMs };
}
