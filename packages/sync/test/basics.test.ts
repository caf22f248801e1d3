import { describe, expect, it } from 'vitest';
import { MemoryAdapter, Tier, isCseError, openStore } from '@cse/core';
import type { EdgeSync, Transport } from '@cse/sync';
import { edgeOn, edgeState, frontendOn, interpose, memoryEdge, pairConnector, replicaState, until } from './helpers.js';
import type { Edge } from './helpers.js';

function edgeOnSame(edge: Edge): EdgeSync {
  return edgeOn(edge.store).sync;
}

const ALL = ['pump_desired', 'pump_identity', 'pump_observed', 'valve_desired', 'valve_identity', 'valve_observed'];

async function converged(edgeStore: Parameters<typeof edgeState>[0], replica: Parameters<typeof edgeState>[0], collections = ALL): Promise<boolean> {
  const e = await edgeState(edgeStore, collections);
  const r = await replicaState(replica, collections, e);
  const strip = (m: Map<string, unknown>) => new Map([...m].map(([k, v]) => [k, { ...(v as object), status: undefined }]));
  return JSON.stringify([...strip(e)].sort()) === JSON.stringify([...strip(r)].sort());
}

describe('sync in one process', () => {
  it('initial sync, live changes, tombstones, desired writes, conflicts', async () => {
    const edge = memoryEdge();
    for (let i = 0; i < 30; i++) {
      await edge.triangular.saveIdentity('pump', `p${i}`, { model: 'X' });
      await edge.triangular.saveObserved('pump', `p${i}`, { rpm: i });
    }
    const local = openStore(new MemoryAdapter());
    const fe = frontendOn(local, pairConnector(() => edge.sync));
    await fe.start();
    await until(() => converged(edge.store, local), 'initial sync');
    expect(fe.status).toBe('live');

    await edge.triangular.saveObserved('pump', 'p1', { rpm: 100 });
    await edge.triangular.deleteWorker('pump', 'p2');
    await until(() => converged(edge.store, local), 'live changes');
    expect(await local.get('pump_observed', 'p1')).toMatchObject({ rpm: 100, _sync_status: 'synced' });
    expect(await local.get('pump_identity', 'p2')).toBeUndefined();

    const pending = await fe.saveDesired('pump', 'p1', { rpm: 50 });
    expect(pending._sync_status).toBe('pending');
    await until(async () => (await edge.triangular.loadDesired('pump', 'p1'))?.rpm === 50, 'desired applied on the Edge');
    await until(async () => (await local.get('pump_desired', 'p1'))?._sync_status === 'synced', 'desired synced');
    expect(fe.pending).toBe(0);

    // A conflict: the Edge changes the document while the Frontend is offline and writes too.
    await fe.stop();
    await edge.triangular.saveDesired('pump', 'p1', { rpm: 60 });
    await fe.saveDesired('pump', 'p1', { rpm: 70 });
    await fe.start();
    await until(async () => (await local.get('pump_desired', 'p1'))?._sync_status === 'conflict', 'conflict visible');
    const c = await local.get('pump_desired', 'p1');
    expect(c).toMatchObject({ rpm: 60, _conflict: { value: { id: 'p1', rpm: 70 }, code: 'CONFLICT' } });
    expect((await edge.triangular.loadDesired('pump', 'p1'))?.rpm).toBe(60);
    await fe.resolveConflict('pump', 'p1', 'mine');
    await until(async () => (await edge.triangular.loadDesired('pump', 'p1'))?.rpm === 70, 'resolved as mine');
    await until(() => converged(edge.store, local), 'converged after resolution');
    await fe.stop();
    await edge.sync.close();
  });

  it('"constructor" and nested "__proto__" fields sync as the data they are (no prototype touched)', async () => {
    const edge = memoryEdge();
    await edge.triangular.saveObserved('pump', 'p1', JSON.parse('{"constructor": {"__proto__": {"polluted": true}}, "rpm": 1}') as Record<string, unknown>);
    const local = openStore(new MemoryAdapter());
    const fe = frontendOn(local, pairConnector(() => edge.sync));
    await fe.start();
    await until(() => converged(edge.store, local), 'synced');
    const doc = (await local.get('pump_observed', 'p1')) as Record<string, unknown>;
    expect(Object.getPrototypeOf(doc)).toBe(Object.prototype);
    expect(Object.hasOwn(doc, 'constructor')).toBe(true);
    expect(Object.hasOwn(doc.constructor as object, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((doc.constructor as { polluted?: unknown }).polluted).toBeUndefined();
    await fe.stop();
  });

  it('a write sent again after its result was lost, when the Edge has moved on since, leaves the Edge state in the replica', async () => {
    // Seed 1235430227 path 7 of faults.test.ts found it: the duplicate's result names the Edge's
    // current version, and the replica took its own older body for that version.
    const edge = memoryEdge();
    await edge.triangular.saveDesired('pump', 'p1', { rpm: 1 });
    const local = openStore(new MemoryAdapter());
    let dropResult = false;
    let edgeMovesOn: Promise<unknown> = Promise.resolve();
    const wrap = (t: Transport): Transport =>
      interpose(t, (frame, deliver) => {
        if (dropResult && frame.includes('"t":"result"')) {
          // The write was applied; its result is lost with the connection, and the Edge writes again.
          dropResult = false;
          edgeMovesOn = edge.triangular.saveDesired('pump', 'p1', { rpm: 5 });
          t.close('lost');
          return;
        }
        deliver(frame);
      });
    const fe = frontendOn(local, pairConnector(() => edge.sync, wrap));
    await fe.start();
    await until(async () => (await local.get('pump_desired', 'p1'))?.rpm === 1, 'synced');
    dropResult = true;
    await fe.saveDesired('pump', 'p1', { rpm: 3 });
    await until(() => fe.pending === 0, 'the write settled');
    await edgeMovesOn;
    await until(() => converged(edge.store, local), 'the replica holds the Edge state');
    expect(await local.get('pump_desired', 'p1')).toMatchObject({ rpm: 5, _edge_version: 3, _sync_status: 'synced' });
    expect(edge.sync.stats.writesApplied).toBe(1);
    await fe.stop();
  });

  it('refuses Identity and Observed writes locally and on the Edge', async () => {
    const edge = memoryEdge();
    const local = openStore(new MemoryAdapter());
    const fe = frontendOn(local, pairConnector(() => edge.sync), { subscription: { workerTypes: ['pump'] } });
    await expect(fe.saveDesired('valve', 'v1', { x: 1 })).rejects.toSatisfy((e) => isCseError(e, 'FORBIDDEN'));
    await expect(fe.saveDesired('pump', 'p1', { _x: 1 })).rejects.toSatisfy((e) => isCseError(e, 'VALIDATION'));
    await fe.stop();
  });

  it('widening fetches the new part from 0, narrowing drops what is left out', async () => {
    const edge = memoryEdge();
    await edge.triangular.saveObserved('valve', 'v1', { open: true });
    await edge.triangular.saveObserved('pump', 'p1', { rpm: 1 });
    const local = openStore(new MemoryAdapter());
    const fe = frontendOn(local, pairConnector(() => edge.sync), { subscription: { workerTypes: ['pump'] } });
    await fe.start();
    await until(async () => (await local.get('pump_observed', 'p1')) !== undefined, 'pump synced');
    await edge.triangular.saveObserved('pump', 'p1', { rpm: 2 });
    await until(async () => (await local.get('pump_observed', 'p1'))?.rpm === 2, 'pump live');
    expect(await local.get('valve_observed', 'v1')).toBeUndefined();
    await fe.setSubscription({ workerTypes: ['pump', 'valve'] });
    await until(() => converged(edge.store, local), 'widened');
    expect(await local.get('valve_observed', 'v1')).toMatchObject({ open: true });
    await fe.setSubscription({ workerTypes: ['valve'] });
    await until(async () => (await local.get('pump_observed', 'p1')) === undefined, 'narrowed');
    await edge.triangular.saveObserved('valve', 'v1', { open: false });
    await until(async () => (await local.get('valve_observed', 'v1'))?.open === false, 'valve live after narrowing');
    await fe.stop();
  });

  it('a new Edge epoch rebuilds the replica, keeping pending writes', async () => {
    let edge = memoryEdge();
    await edge.triangular.saveObserved('pump', 'old', { rpm: 1 });
    const local = openStore(new MemoryAdapter());
    const fe = frontendOn(local, pairConnector(() => edge.sync));
    await fe.start();
    await until(async () => (await local.get('pump_observed', 'old')) !== undefined, 'first edge synced');
    await fe.stop();
    await fe.saveDesired('pump', 'mine', { rpm: 9 });
    edge = memoryEdge(); // replaced Edge store: another epoch
    await edge.triangular.saveObserved('pump', 'new', { rpm: 2 });
    await fe.start();
    await until(async () => (await edge.triangular.loadDesired('pump', 'mine'))?.rpm === 9, 'pending write kept and sent');
    await until(() => converged(edge.store, local), 'rebuilt');
    expect(await local.get('pump_observed', 'old')).toBeUndefined();
    await fe.stop();
  });

  it('the Edge records what each Frontend acknowledged in its SyncState, surviving a new EdgeSync', async () => {
    const edge = memoryEdge({ ackRecordMs: 50 });
    for (let i = 0; i < 20; i++) await edge.triangular.saveObserved('pump', `p${i}`, { rpm: i });
    const a = openStore(new MemoryAdapter());
    const b = openStore(new MemoryAdapter());
    const fa = frontendOn(a, pairConnector(() => edge.sync));
    const fb = frontendOn(b, pairConnector(() => edge.sync), { subscription: { workerTypes: ['pump'] } });
    await fa.start();
    await fb.start();
    await until(async () => (await converged(edge.store, a)) && (await converged(edge.store, b, ['pump_desired', 'pump_identity', 'pump_observed'])), 'both synced');
    await edge.triangular.saveObserved('pump', 'p0', { rpm: 99 });
    const head = await edge.store.lastSyncId();
    await until(async () => {
      const list = await edge.sync.frontends();
      return list.length === 2 && list.every((f) => f.syncedThrough >= head);
    }, async () => `frontends() at the head ${head}: ${JSON.stringify(await edge.sync.frontends())}`);
    await fa.stop();
    await fb.stop();
    await edge.sync.close();
    // A new EdgeSync on the same store (an Edge restart) still knows both replicas.
    const again = edgeOnSame(edge);
    const peers = await again.frontends();
    expect(peers.map((p) => p.syncedThrough)).toEqual([head, head]);
    expect(new Set(peers.map((p) => p.peer)).size).toBe(2);
    // Acknowledgements never go back, and the tier's own state is untouched.
    expect((await again.syncState.getState(Tier.Edge)).syncedThrough).toBe(0);
  });
});
