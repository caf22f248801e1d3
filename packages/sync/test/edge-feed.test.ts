import { describe, expect, it } from 'vitest';
import { MemoryAdapter, Tier, openStore } from '@cse/core';
import type { StoredRecord } from '@cse/core';
import { edgeOn, frontendOn, pairConnector, until } from './helpers.js';

/** A real MemoryAdapter that counts the change reads that name collections (the sessions' reads). */
class CountingAdapter extends MemoryAdapter {
  sessionReads = 0;

  override async changes(after: number, options: { readonly limit: number; readonly collections?: readonly string[] }): Promise<StoredRecord[]> {
    if (options.collections !== undefined) this.sessionReads++;
    return super.changes(after, options);
  }
}

/** One turn of the event loop: the memory adapter answers within it, so a woken reader has read by then. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('the Edge wakes its live sessions', () => {
  it('not for its bookkeeping commits (acknowledgement records), only for changes they follow', async () => {
    const adapter = new CountingAdapter();
    const edge = edgeOn(openStore(adapter), { ackRecordMs: 0 });
    await edge.triangular.saveObserved('pump', 'p0', { rpm: 1 });
    const SESSIONS = 3;
    const replicas = Array.from({ length: SESSIONS }, () => openStore(new MemoryAdapter()));
    const frontends = replicas.map((r) => frontendOn(r, pairConnector(() => edge.sync)));
    for (const f of frontends) await f.start();
    const have = async (rpm: number): Promise<boolean> => (await Promise.all(replicas.map((r) => r.get('pump_observed', 'p0')))).every((d) => d?.rpm === rpm);
    await until(() => have(1), 'every replica synced');
    await turn();
    adapter.sessionReads = 0;
    const BOOKKEEPING = 10;
    const head = await edge.store.lastSyncId();
    for (let i = 0; i < BOOKKEEPING; i++) {
      await edge.sync.syncState.markSynced(Tier.Edge, head, { peer: `bookkeeping-${i}` });
      await turn();
    }
    const afterBookkeeping = adapter.sessionReads;
    // A followed change still reaches every session.
    await edge.triangular.saveObserved('pump', 'p0', { rpm: 2 });
    await until(() => have(2), 'every replica has the new change');
    expect(afterBookkeeping).toBe(0);
    // One read per session for the change (and at most one more each if it raced a wake-up).
    expect(adapter.sessionReads).toBeLessThanOrEqual(2 * SESSIONS);
    for (const f of frontends) await f.stop();
    await edge.sync.close();
  });

  it('and a session that follows other collections is not woken by a change it does not follow', async () => {
    const adapter = new CountingAdapter();
    const edge = edgeOn(openStore(adapter), { ackRecordMs: 0 });
    await edge.triangular.saveObserved('valve', 'v0', { open: true });
    const replica = openStore(new MemoryAdapter());
    const fe = frontendOn(replica, pairConnector(() => edge.sync), { subscription: { workerTypes: ['valve'] } });
    await fe.start();
    await until(async () => (await replica.get('valve_observed', 'v0')) !== undefined, 'the valve replica synced');
    await turn();
    adapter.sessionReads = 0;
    for (let i = 0; i < 5; i++) {
      await edge.triangular.saveObserved('pump', `p${i}`, { rpm: i });
      await turn();
    }
    expect(adapter.sessionReads).toBe(0);
    await edge.triangular.saveObserved('valve', 'v0', { open: false });
    await until(async () => (await replica.get('valve_observed', 'v0'))?.open === false, 'the valve change reached the replica');
    await fe.stop();
    await edge.sync.close();
  });
});
