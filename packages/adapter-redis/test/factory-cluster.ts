import type { StorageAdapter } from '@cse/core';
import { RedisAdapter } from '@cse/adapter-redis';
import { namespaceFor, serverUrl } from './factory.js';

/** Opens (or reopens) the store `storeName` on the test Redis Cluster. */
export function open(storeName: string, ctx?: { dir: string }): StorageAdapter {
  return new RedisAdapter({ url: serverUrl('REDIS_CLUSTER_URL'), cluster: true, namespace: namespaceFor(storeName, ctx) });
}
