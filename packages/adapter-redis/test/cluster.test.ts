import { afterAll, describe, expect, it } from 'vitest';
import { Cluster } from 'ioredis';
import { adapterOn, freshNamespace, targets } from './targets.js';
import { serverUrl } from './factory.js';

const cluster = targets.find((t) => t.cluster) as (typeof targets)[number];

describe('namespaces on a Redis Cluster', () => {
  const admin = (): Cluster => {
    const { hostname, port } = new URL(serverUrl('REDIS_CLUSTER_URL'));
    return new Cluster([{ host: hostname, port: Number(port) }]);
  };
  let client: Cluster | undefined;
  afterAll(async () => {
    await client?.quit();
  });

  it('spread over the masters, each namespace whole on one node', async () => {
    const namespaces = Array.from({ length: 24 }, () => freshNamespace('spread'));
    for (const ns of namespaces) {
      const adapter = adapterOn(cluster, ns);
      const r = await adapter.commit({
        now: '2026-01-01T00:00:00.000Z',
        writes: ['a', 'b', 'c'].map((c) => ({ collection: c, id: `${ns}-doc`, kind: 'put' as const, body: { ns } })),
      });
      expect(r.ok).toBe(true);
      await adapter.close();
    }
    client = admin();
    const c = client;
    await new Promise((resolve) => c.once('ready', resolve));
    const masters = client.nodes('master');
    expect(masters.length).toBeGreaterThanOrEqual(3);
    const nodeOf = new Map<string, Set<number>>();
    const perNode: number[] = [];
    for (const [n, node] of masters.entries()) {
      const keys = await node.keys('cse:*');
      let mine = 0;
      for (const ns of namespaces) {
        const tag = `cse:{${encodeURIComponent(ns)}}:`;
        const count = keys.filter((k) => k.startsWith(tag)).length;
        if (count === 0) continue;
        mine++;
        nodeOf.set(ns, (nodeOf.get(ns) ?? new Set()).add(n));
      }
      perNode.push(mine);
    }
    // every namespace lives on exactly one node, and every master holds some namespaces
    for (const ns of namespaces) expect(nodeOf.get(ns)?.size, ns).toBe(1);
    for (const count of perNode) expect(count).toBeGreaterThan(0);
  });
});
