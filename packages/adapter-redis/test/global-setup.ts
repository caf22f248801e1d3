import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RedisServer } from './redis-servers.js';
import { startCluster, startRedis } from './redis-servers.js';

/**
 * Starts a plain redis-server (unless REDIS_URL is set) and a three-master Redis Cluster
 * (unless REDIS_CLUSTER_URL is set) for this run, and the same again for the conformance files
 * (REDIS_CONFORMANCE_URL, REDIS_CONFORMANCE_CLUSTER_URL), and hands their URLs to the tests and their
 * child processes through the environment. A failure to start (redis-server missing) is kept in
 * CSE_REDIS_SETUP_ERROR so that every test fails with the reason instead of being skipped.
 */
export default async function setup(): Promise<() => Promise<void>> {
  const root = await mkdtemp(join(tmpdir(), 'cse-redis-'));
  const servers: RedisServer[] = [];
  process.env.CSE_REDIS_RUN ??= randomUUID().slice(0, 8);
  process.env.CSE_REDIS_TMP = root;
  try {
    // The conformance files get their own server and cluster: their largest checks run one Lua
    // script for a 100,000-document batch, and a script past Redis's busy limit (5 s, reached on a
    // loaded machine) makes the server answer BUSY to every other client, failing other files.
    const plain = async (variable: string, name: string): Promise<void> => {
      if (process.env[variable] !== undefined) return;
      const server = await startRedis(join(root, name));
      servers.push(server);
      process.env[variable] = server.url;
    };
    const cluster = async (variable: string, name: string): Promise<void> => {
      if (process.env[variable] !== undefined) return;
      const nodes = await startCluster(join(root, name));
      servers.push(...nodes);
      process.env[variable] = (nodes[0] as RedisServer).url;
    };
    await Promise.all([plain('REDIS_URL', 'plain'), plain('REDIS_CONFORMANCE_URL', 'plain-conformance'), cluster('REDIS_CLUSTER_URL', 'cluster')]);
    await cluster('REDIS_CONFORMANCE_CLUSTER_URL', 'cluster-conformance');
  } catch (e) {
    process.env.CSE_REDIS_SETUP_ERROR = e instanceof Error ? e.message : String(e);
  }
  return async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await rm(root, { recursive: true, force: true });
  };
}
