import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RedisServer } from './redis-servers.js';
import { startCluster, startRedis } from './redis-servers.js';

/**
 * Starts a plain redis-server (unless REDIS_URL is set) and a three-master Redis Cluster
 * (unless REDIS_CLUSTER_URL is set) for this run, and hands their URLs to the tests and their
 * child processes through the environment. A failure to start (redis-server missing) is kept in
 * CSE_REDIS_SETUP_ERROR so that every test fails with the reason instead of being skipped.
 */
export default async function setup(): Promise<() => Promise<void>> {
  const root = await mkdtemp(join(tmpdir(), 'cse-redis-'));
  const servers: RedisServer[] = [];
  process.env.CSE_REDIS_RUN ??= randomUUID().slice(0, 8);
  process.env.CSE_REDIS_TMP = root;
  try {
    if (process.env.REDIS_URL === undefined) {
      const server = await startRedis(join(root, 'plain'));
      servers.push(server);
      process.env.REDIS_URL = server.url;
    }
    if (process.env.REDIS_CLUSTER_URL === undefined) {
      const nodes = await startCluster(join(root, 'cluster'));
      servers.push(...nodes);
      process.env.REDIS_CLUSTER_URL = (nodes[0] as RedisServer).url;
    }
  } catch (e) {
    process.env.CSE_REDIS_SETUP_ERROR = e instanceof Error ? e.message : String(e);
  }
  return async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await rm(root, { recursive: true, force: true });
  };
}
