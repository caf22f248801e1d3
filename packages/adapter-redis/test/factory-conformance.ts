import type { StorageAdapter } from '@cse/core';
import { RedisAdapter } from '@cse/adapter-redis';
import { namespaceFor, serverUrl } from './factory.js';

/**
 * The conformance runs' stores: on their own server and cluster (see global-setup.ts), so their
 * long Lua scripts never make the server answer BUSY to the other test files.
 */
export function open(storeName: string, ctx?: { dir: string }): StorageAdapter {
  return new RedisAdapter({ url: serverUrl('REDIS_CONFORMANCE_URL'), namespace: namespaceFor(storeName, ctx) });
}
