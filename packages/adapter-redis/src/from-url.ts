import type { StorageAdapter } from '@cse/core';
import { parseRedisUrl } from './options.js';
import { RedisAdapter } from './redis-adapter.js';

/**
 * Opens a `RedisAdapter` from a store URL such as `redis://127.0.0.1:6379/?namespace=plant-a`
 * (see `parseRedisUrl`); `openStore(url)` calls this. The adapter owns the client it creates.
 *
 * @throws `VALIDATION` for a bad URL.
 */
export function createAdapterFromUrl(url: string): StorageAdapter {
  const { url: clientUrl, namespace, cluster, commandTimeoutMs } = parseRedisUrl(url);
  return new RedisAdapter({ url: clientUrl, namespace, cluster, commandTimeoutMs });
}
