/**
 * Progress and "caught up" count only what the Frontend follows: the Edge's bookkeeping commits
 * (acknowledgement records of other Frontends) take sync ids no page carries, and must not make
 * a caught-up replica look behind (issue 20).
 */
import { describe, expect, it } from 'vitest';
import { MemoryAdapter, Tier, openStore } from '@cse/core';
import type { SyncProgress, Transport } from '@cse/sync';
import { frontendOn, interpose, memoryEdge, pairConnector, until } from './helpers.js';

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

describe('a live replica and commits larger than a page (issue 24: no status flapping once live)', () => {
  /** A live Frontend on `edge` (pages of 2), the statuses it reported from live on, and its replica. */
  async function liveOn(edge: ReturnType<typeof memoryEdge>, liveGraceMs: number) {
    const local = openStore(new MemoryAdapter());
    const fe = frontendOn(local, pairConnector(() => edge.sync), { liveGraceMs });
    await fe.start();
    await fe.settled();
    expect(fe.status).toBe('live');
    const seen: string[] = [];
    fe.onStatus((status) => seen.push(status));
    return { fe, local, seen };
  }

  const burst = (edge: ReturnType<typeof memoryEdge>) =>
    edge.store.insertMany(
      'pump_observed',
      Array.from({ length: 9 }, (_, i) => ({ id: `b${i}`, rpm: i })),
    );

  it('stays live while one commit of 9 changes arrives in pages of 2', async () => {
    const edge = memoryEdge({ pageSize: 2 });
    const { fe, local, seen } = await liveOn(edge, 60_000);
    await burst(edge);
    await until(async () => (await local.get('pump_observed', 'b8')) !== undefined, 'the burst in the replica');
    await until(() => fe.progress.cursor >= fe.progress.head, 'caught up');
    expect(seen).not.toContain('syncing');
    expect(fe.status).toBe('live');
    await fe.stop();
  });

  it('with liveGraceMs 0 the same commit says syncing until it is in (the status as it was)', async () => {
    const edge = memoryEdge({ pageSize: 2 });
    const { fe, local, seen } = await liveOn(edge, 0);
    await burst(edge);
    await until(async () => (await local.get('pump_observed', 'b8')) !== undefined, 'the burst in the replica');
    await until(() => fe.status === 'live', 'live again');
    expect(seen).toContain('syncing');
    await fe.stop();
  });

  it('says syncing once it has been behind for longer than the grace, and live once caught up', async () => {
    const edge = memoryEdge({ pageSize: 2 });
    // Frames from the Edge pass while `open`; closed, they wait here until released.
    let open = true;
    const held: (() => void)[] = [];
    const gated = (t: Transport): Transport => interpose(t, (frame, deliver) => (open ? deliver(frame) : held.push(() => deliver(frame))));
    const local = openStore(new MemoryAdapter());
    const fe = frontendOn(local, pairConnector(() => edge.sync, gated), { liveGraceMs: 30, heartbeatMs: 60_000 });
    await fe.start();
    await fe.settled();
    const seen: string[] = [];
    fe.onStatus((status) => seen.push(status));
    open = false;
    await burst(edge);
    await until(() => held.length > 0, 'the first page of the burst held');
    (held.shift() as () => void)(); // one page of 2 in: behind, and nothing more arrives
    await until(() => seen.includes('syncing'), () => `syncing after the grace (seen ${seen.join(', ') || 'nothing'})`);
    open = true;
    for (const f of held.splice(0)) f();
    await until(async () => fe.status === 'live' && (await local.get('pump_observed', 'b8')) !== undefined, 'live again with the burst in');
    await fe.stop();
  });
});
