/**
 * Progress and "caught up" count only what the Frontend follows: the Edge's bookkeeping commits
 * (acknowledgement records of other Frontends) take sync ids no page carries, and must not make
 * a caught-up replica look behind (issue 20).
 */
import { describe, expect, it } from 'vitest';
import { MemoryAdapter, Tier, openStore } from '@cse/core';
import type { SyncProgress } from '@cse/sync';
import { frontendOn, memoryEdge, pairConnector } from './helpers.js';

async function bookkeeping(edge: ReturnType<typeof memoryEdge>, n: number): Promise<void> {
  for (let i = 1; i <= n; i++) await edge.sync.syncState.markSynced(Tier.Edge, i, { peer: `other-${i}` });
}

/** The progress the welcome announced (the first one of a session, before any page). */
function welcomeHead(fe: ReturnType<typeof frontendOn>): () => SyncProgress | undefined {
  let seen: SyncProgress | undefined;
  fe.onStatus((status, p) => {
    if (seen === undefined && status === 'syncing' && p.applied === 0) seen = p;
  });
  return () => seen;
}

describe('progress counts only the followed collections', () => {
  it('a caught-up replica does not look behind after the Edge wrote bookkeeping', async () => {
    const edge = memoryEdge();
    const local = openStore(new MemoryAdapter());
    const connect = pairConnector(() => edge.sync);
    await edge.triangular.saveDesired('pump', 'p1', { rpm: 1 });
    const first = frontendOn(local, connect);
    await first.start();
    await first.settled();
    await first.stop();
    const cursor = first.progress.cursor;
    await bookkeeping(edge, 20);
    expect(await edge.store.lastSyncId()).toBeGreaterThan(cursor + 10);
    const second = frontendOn(local, connect);
    const welcome = welcomeHead(second);
    await second.start();
    await second.settled();
    expect(welcome()?.head).toBeLessThanOrEqual(welcome()?.cursor ?? -1);
    expect(second.progress.head).toBeLessThanOrEqual(second.progress.cursor);
    await second.stop();
  });

  it('a backlog longer than a page: the welcome names the sync id of the last followed change', async () => {
    const edge = memoryEdge({ pageSize: 2 });
    for (let i = 0; i < 9; i++) await edge.triangular.saveDesired('pump', `p${i}`, { rpm: i });
    const lastFollowed = (await edge.triangular.loadDesired('pump', 'p8'))?._sync_id as number;
    await bookkeeping(edge, 25);
    await edge.triangular.saveObserved('valve', 'v1', { open: true }); // not followed below
    const fe = frontendOn(openStore(new MemoryAdapter()), pairConnector(() => edge.sync), { subscription: { collections: ['pump_desired'] } });
    const welcome = welcomeHead(fe);
    await fe.start();
    await fe.settled();
    expect(welcome()?.head).toBe(lastFollowed);
    await fe.stop();
  });
});
