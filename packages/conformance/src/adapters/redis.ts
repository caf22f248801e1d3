/**
 * Built-in factory for `cse-conformance --adapter redis`: the server at `REDIS_URL` (the command
 * starts none), one namespace per store name under this run's directory name, so runs never meet.
 */
import { basename } from 'node:path';
import type { StorageAdapter } from '@cse/core';
import { loadPackage } from './load.js';

type RedisModule = { RedisAdapter: new (options: { url: string; namespace: string }) => StorageAdapter };

export async function open(storeName: string, ctx: { dir: string }): Promise<StorageAdapter> {
  const url = process.env.REDIS_URL;
  if (url === undefined || url === '') throw new Error('the redis adapter needs REDIS_URL (e.g. redis://127.0.0.1:6379); cse-conformance starts no server');
  const { RedisAdapter } = await loadPackage<RedisModule>('@cse/adapter-redis');
  return new RedisAdapter({ url, namespace: `cse-conformance:${basename(ctx.dir)}:${storeName}` });
}
