import type { StorageAdapter } from '@cse/core';
import { RedisAdapter } from '@cse/adapter-redis';
import { namespaceFor, serverUrl } from './factory.js';

/** The cluster conformance run's stores, on its own Redis Cluster (see factory-conformance.ts). */
export function open(storeName: string, ctx?: { dir: string }): StorageAdapter {
  return new RedisAdapter({ url: serverUrl('REDIS_CONFORMANCE_CLUSTER_URL'), cluster: true, namespace: namespaceFor(storeName, ctx) });
}
