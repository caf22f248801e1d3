import { describe, expect, it } from 'vitest';
import { RECEIPT_COLLECTION, Registry, Replica, SyncState, TriangularStore, isCseError } from '@cse/core';
import { memoryStore, rejection } from './helpers.js';

describe('Replica', () => {
  it('keeps the origin metadata that the ordinary write path drops', async () => {
    const store = memoryStore();
    const replica = new Replica(store);
    await replica.commit([
      { collection: 'pumps', id: 'p1', kind: 'put', body: { rpm: 5, _edge_sync_id: 40, _edge_version: 3, _sync_status: 'synced', _synced_at: 'now' } },
      { collection: '_cse_replica', id: 'state', kind: 'put', body: { cursor: 40 } },
    ]);
    expect(await store.get('pumps', 'p1')).toMatchObject({ rpm: 5, _edge_sync_id: 40, _edge_version: 3, _sync_status: 'synced', _version: 1, _sync_id: 1 });
    // A caller's copy saved back through the Store loses the replica fields (never trusted).
    const saved = await store.update('pumps', { id: 'p1', rpm: 6, _edge_sync_id: 999, _edge_version: 999, _conflict: { x: 1 } });
    expect(saved).not.toHaveProperty('_edge_sync_id');
    expect(saved).not.toHaveProperty('_conflict');
    const [state] = await replica.getMany([{ collection: '_cse_replica', id: 'state' }]);
    expect(state?.doc.cursor).toBe(40);
  });

  it('is atomic and validates before writing', async () => {
    const store = memoryStore();
    const replica = new Replica(store);
    await store.insert('pumps', { id: 'p1' });
    const e = await rejection(
      replica.commit([
        { collection: 'pumps', id: 'p2', kind: 'put', body: { ok: true } },
        { collection: 'pumps', id: 'p1', kind: 'put', body: {}, expect: { kind: 'absent' } },
      ]),
    );
    expect(isCseError(e, 'CONFLICT')).toBe(true);
    expect(await store.get('pumps', 'p2')).toBeUndefined();
    const bad = await rejection(replica.commit([{ collection: 'pumps', id: 'p3', kind: 'put', body: { _edge_version: -1 } }]));
    expect(isCseError(bad, 'VALIDATION')).toBe(true);
    const twice = await rejection(replica.commit([{ collection: 'pumps', id: 'p3', kind: 'put', body: {} }, { collection: 'pumps', id: 'p3', kind: 'delete' }]));
    expect(isCseError(twice, 'VALIDATION')).toBe(true);
    expect(await store.lastSyncId()).toBe(1);
  });

  it('a delete leaves a tombstone, also for a document it never had', async () => {
    const store = memoryStore();
    const replica = new Replica(store);
    await replica.commit([{ collection: 'pumps', id: 'ghost', kind: 'delete' }]);
    const [r] = await replica.getMany([{ collection: 'pumps', id: 'ghost' }]);
    expect(r?.deleted).toBe(true);
  });
});

describe('saveDesired with a receipt', () => {
  function setup() {
    const store = memoryStore();
    const registry = new Registry();
    registry.registerWorkerType('pump');
    return { store, tri: new TriangularStore(store, registry) };
  }

  it('applies once: the same receipt again writes nothing and says duplicate', async () => {
    const { store, tri } = setup();
    const first = await tri.saveDesired('pump', 'p1', { rpm: 1 }, { expectedVersion: 0, receipt: { id: 'c1/w1' } });
    expect(first).toMatchObject({ changed: true });
    await tri.saveDesired('pump', 'p1', { rpm: 2 }); // someone else wrote since
    const again = await tri.saveDesired('pump', 'p1', { rpm: 1 }, { expectedVersion: 0, receipt: { id: 'c1/w1' } });
    expect(again).toMatchObject({ changed: false, duplicate: true });
    expect((await tri.loadDesired('pump', 'p1'))?.rpm).toBe(2);
    const [r] = await new Replica(store).getMany([{ collection: RECEIPT_COLLECTION, id: 'c1/w1' }]);
    expect(r?.deleted).toBe(false);
  });

  it('a stale write is a CONFLICT and records no receipt', async () => {
    const { store, tri } = setup();
    await tri.saveDesired('pump', 'p1', { rpm: 1 });
    const e = await rejection(tri.saveDesired('pump', 'p1', { rpm: 9 }, { expectedVersion: 7, receipt: { id: 'c1/w2' } }));
    expect(isCseError(e, 'CONFLICT')).toBe(true);
    const [r] = await new Replica(store).getMany([{ collection: RECEIPT_COLLECTION, id: 'c1/w2' }]);
    expect(r).toBeUndefined();
  });

  it('concurrent copies of one write: exactly one applies', async () => {
    const { tri } = setup();
    const results = await Promise.all([1, 2, 3].map(() => tri.saveDesired('pump', 'p1', { rpm: 3 }, { expectedVersion: 0, receipt: { id: 'c1/w3' } })));
    expect(results.filter((r) => r.changed)).toHaveLength(1);
    expect(results.filter((r) => r.duplicate === true)).toHaveLength(2);
  });

  it('needs expectedVersion', async () => {
    const { tri } = setup();
    expect(isCseError(await rejection(tri.saveDesired('pump', 'p1', {}, { receipt: { id: 'x' } })), 'VALIDATION')).toBe(true);
  });
});

describe('SyncState.epoch', () => {
  it('is created once, stable, and concurrent first calls agree', async () => {
    const store = memoryStore();
    const s = new SyncState(store, new Registry());
    const all = await Promise.all([s.epoch(), s.epoch(), new SyncState(store, new Registry()).epoch()]);
    expect(new Set(all).size).toBe(1);
    expect(await s.epoch()).toBe(all[0]);
    expect(await new SyncState(memoryStore(), new Registry()).epoch()).not.toBe(all[0]);
  });
});
