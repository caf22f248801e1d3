import { describe, expect, it } from 'vitest';
import {
  ConflictError,
  MemoryAdapter,
  ObjectPool,
  OpType,
  Registry,
  SyncState,
  Tier,
  TriangularStore,
  TxCache,
  TxStatus,
  isCseError,
  openStore,
} from '@cse/core';
import { memoryStore, rejection } from './helpers.js';

function registry(): Registry {
  const r = new Registry();
  r.registerWorkerType('container', 'v1');
  return r;
}

describe('Registry', () => {
  it('validates, rejects duplicates and duplicate roles, returns copies', () => {
    const r = new Registry();
    r.registerCollection('workers', 'container', 'identity');
    expect(() => r.registerCollection('workers', 'container', 'desired')).toThrow(ConflictError);
    expect(() => r.registerCollection('workers2', 'container', 'identity')).toThrow(/already has its identity collection/);
    for (const bad of [() => r.registerCollection('', 'c', 'identity'), () => r.registerCollection('x', '', 'identity'), () => r.registerCollection('x', 'c', 'boss' as never)]) {
      try {
        bad();
        expect.unreachable();
      } catch (e) {
        expect(isCseError(e, 'VALIDATION')).toBe(true);
      }
    }
    const m = r.getMetadata('workers') as { role: string };
    expect(Object.isFrozen(m)).toBe(true);
    expect(() => r.getMetadata('nope')).toThrow(/not registered/);
    expect(() => r.getTriangularCollections('container')).toThrow(/desired collection not found/);
  });

  it('tracks schema versions and features', () => {
    const r = registry();
    expect(r.getTriangularCollections('container')).toEqual({ identity: 'container_identity', desired: 'container_desired', observed: 'container_observed' });
    r.registerVersion('container', 'desired', 'v2');
    expect(r.getAllVersions()).toEqual({ container_identity: 'v1', container_desired: 'v2', container_observed: 'v1' });
    r.registerFeature('delta_sync', true);
    r.registerFeature('e2e_encryption', false);
    expect(r.hasFeature('delta_sync')).toBe(true);
    expect(r.hasFeature('e2e_encryption')).toBe(false);
    const features = r.getFeatures();
    features.delta_sync = false;
    expect(r.hasFeature('delta_sync')).toBe(true);
  });
});

describe('Tier', () => {
  it('has exactly Edge and Frontend; a relay tier is a ValidationError explaining the relay is a transparent proxy', async () => {
    expect(Object.values(Tier).sort()).toEqual(['edge', 'frontend']);
    const sync = new SyncState(memoryStore(), registry());
    const e = await rejection(sync.recordChange('relay' as never, 1));
    expect(e.code).toBe('VALIDATION');
    expect(e.message).toMatch(/transparent/);
    expect((await rejection(sync.getDeltaSince('relay' as never, 0))).message).toMatch(/relay/);
  });
});

describe('TriangularStore', () => {
  it('saves and loads the three documents; identity is immutable and validated', async () => {
    const store = memoryStore();
    const t = new TriangularStore(store, registry());
    expect((await t.saveIdentity('container', 'w1', { name: 'pump' })).changed).toBe(true);
    expect((await t.saveIdentity('container', 'w1', { name: 'pump' })).changed).toBe(false);
    const e = await rejection(t.saveIdentity('container', 'w1', { name: 'valve' }));
    expect(e.code).toBe('CONFLICT');
    expect((await rejection(t.saveIdentity('container', 'w1', { id: 'w2', name: 'pump' }))).code).toBe('VALIDATION');
    expect((await rejection(t.saveIdentity('nope', 'w1', { name: 'pump' }))).code).toBe('VALIDATION');
    await t.saveDesired('container', 'w1', { state: 'running' });
    await t.saveObserved('container', 'w1', { state: 'starting' });
    expect(await t.loadIdentity('container', 'w1')).toMatchObject({ id: 'w1', name: 'pump' });
    expect(await t.loadDesired('container', 'w1')).toMatchObject({ state: 'running' });
    expect(await t.loadObserved('container', 'w1')).toMatchObject({ state: 'starting' });
  });

  it('an unchanged observed state burns no sync id and reports changed: false', async () => {
    const store = memoryStore();
    const t = new TriangularStore(store, registry());
    await t.saveObserved('container', 'w1', { temp: 20 });
    const before = await store.lastSyncId();
    for (let i = 0; i < 10; i++) expect((await t.saveObserved('container', 'w1', { temp: 20 })).changed).toBe(false);
    expect(await store.lastSyncId()).toBe(before);
    const r = await t.saveObserved('container', 'w1', { temp: 21 });
    expect(r).toMatchObject({ changed: true, doc: { temp: 21, _version: 2 } });
  });

  it('versions increment on every change and expectedVersion is checked', async () => {
    const store = memoryStore();
    const t = new TriangularStore(store, registry());
    for (let i = 1; i <= 3; i++) expect((await t.saveDesired('container', 'w1', { i })).doc._version).toBe(i);
    expect((await rejection(t.saveDesired('container', 'w1', { i: 9 }, { expectedVersion: 2 }))).code).toBe('CONFLICT');
    expect((await t.saveDesired('container', 'w1', { i: 9 }, { expectedVersion: 3 })).doc._version).toBe(4);
  });

  it('concurrent first saves of one worker do not fail (create-or-update is atomic)', async () => {
    const store = memoryStore();
    const t = new TriangularStore(store, registry());
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => t.saveObserved('container', 'w1', { i })));
    expect(results.filter((r) => r.changed)).toHaveLength(10);
    expect((await t.loadObserved('container', 'w1'))?._version).toBe(10);
  });

  it('two TriangularStores on one store (two processes) never trust a stale view', async () => {
    const store = memoryStore();
    const a = new TriangularStore(store, registry());
    const b = new TriangularStore(store, registry());
    expect((await a.saveObserved('container', 'w1', { t: 1 })).changed).toBe(true);
    expect((await b.saveObserved('container', 'w1', { t: 2 })).changed).toBe(true);
    // a last saw {t: 1}; the store holds {t: 2}: saving {t: 1} again is a real change.
    expect(await a.saveObserved('container', 'w1', { t: 1 })).toMatchObject({ changed: true, doc: { t: 1, _version: 3 } });
    expect(await b.saveObserved('container', 'w1', { t: 1 })).toMatchObject({ changed: false, doc: { _version: 3 } });
    expect(await b.saveObserved('container', 'w1', { t: 3 })).toMatchObject({ changed: true, doc: { _version: 4 } });
    await store.delete('container_observed', 'w1');
    expect(await a.saveObserved('container', 'w1', { t: 3 })).toMatchObject({ changed: true, doc: { t: 3, _version: 6 } });
    expect((await a.saveIdentity('container', 'w1', { n: 1 })).changed).toBe(true);
    expect((await b.saveIdentity('container', 'w1', { n: 1 })).changed).toBe(false);
  });

  it('loadSnapshot reads all three; deleteWorker writes tombstones in one commit', async () => {
    const store = memoryStore();
    const t = new TriangularStore(store, registry());
    await t.saveIdentity('container', 'w1', { name: 'pump' });
    await t.saveDesired('container', 'w1', { on: true });
    const snap = await t.loadSnapshot('container', 'w1');
    expect(snap.identity?.name).toBe('pump');
    expect(snap.desired?.on).toBe(true);
    expect(snap.observed).toBeUndefined();
    const cursor = await store.lastSyncId();
    expect(await t.deleteWorker('container', 'w1')).toBe(2);
    const page = await store.changesSince(cursor);
    expect(page.changes.map((c) => [c.collection, c.deleted, c.syncId])).toEqual([
      ['container_identity', true, cursor + 1],
      ['container_desired', true, cursor + 2],
    ]);
    expect(await t.loadSnapshot('container', 'w1')).toEqual({ identity: undefined, desired: undefined, observed: undefined });
  });
});

describe('TxCache', () => {
  it('records ops durably, commits them atomically with the journal, and replay is exactly once', async () => {
    const adapter = new MemoryAdapter();
    const store = openStore(adapter);
    const cache = new TxCache(store);
    const tx = await cache.beginTx({ worker_id: 'w1' });
    await cache.recordOp(tx, OpType.Insert, 'deploy', { id: 'a', step: 1 });
    await cache.recordOp(tx, OpType.Insert, 'deploy', { id: 'b', step: 2 });
    expect(await store.get('deploy', 'a')).toBeUndefined();
    // "Restart": a new Store and TxCache on the same backend see the pending transaction.
    const cache2 = new TxCache(openStore(adapter));
    const pending = await cache2.getPending();
    expect(pending.map((p) => [p.txId, p.ops.length, p.metadata.worker_id])).toEqual([[tx, 2, 'w1']]);
    const report = await cache2.replay(pending);
    expect(report.committed).toEqual([tx]);
    expect(await store.find('deploy')).toHaveLength(2);
    const ids = await store.lastSyncId();
    expect((await cache2.replay(pending)).skipped).toEqual([tx]);
    expect(await store.lastSyncId()).toBe(ids);
    expect(await cache2.getPending()).toEqual([]);
    expect((await cache2.getTx(tx))?.status).toBe(TxStatus.Committed);
  });

  it('orders pending transactions by the commit that began them, not by the clock', async () => {
    const store = memoryStore();
    const cache = new TxCache(store);
    const begun: string[] = [];
    for (let i = 0; i < 20; i++) begun.push(await cache.beginTx());
    for (const tx of [...begun].reverse()) await cache.recordOp(tx, OpType.Upsert, 'c', { id: 'same' });
    expect((await new TxCache(store).getPending()).map((t) => t.txId)).toEqual(begun);
  });

  it('validates ops before persisting them and refuses ops on finished transactions', async () => {
    const store = memoryStore();
    const cache = new TxCache(store);
    const tx = await cache.beginTx();
    expect((await rejection(cache.recordOp(tx, 'merge' as never, 'c', { id: 'a' }))).code).toBe('VALIDATION');
    expect((await rejection(cache.recordOp(tx, OpType.Insert, 'c', { id: 'a', f: () => 1 }))).code).toBe('VALIDATION');
    expect((await rejection(cache.recordOp('nope', OpType.Insert, 'c', { id: 'a' }))).code).toBe('NOT_FOUND');
    await cache.rollback(tx);
    expect((await rejection(cache.recordOp(tx, OpType.Insert, 'c', { id: 'a' }))).code).toBe('CONFLICT');
    expect((await cache.getTx(tx))?.ops).toEqual([]);
  });

  it('a transaction whose ops conflict applies nothing and is marked failed', async () => {
    const store = memoryStore();
    await store.insert('c', { id: 'taken' });
    const cache = new TxCache(store);
    const tx = await cache.beginTx();
    await cache.recordOp(tx, OpType.Insert, 'c', { id: 'fresh' });
    await cache.recordOp(tx, OpType.Insert, 'c', { id: 'taken' });
    expect((await rejection(cache.commit(tx))).code).toBe('CONFLICT');
    expect(await store.get('c', 'fresh')).toBeUndefined();
    expect((await cache.getTx(tx))?.status).toBe(TxStatus.Failed);
    expect((await cache.replay([tx])).skipped).toEqual([tx]);
  });

  it('compensates a saga in reverse order, each step exactly once', async () => {
    const store = memoryStore();
    const cache = new TxCache(store);
    const steps: string[] = [];
    for (const name of ['bridge', 'route']) {
      const tx = await cache.beginTx({ saga: 'deploy-1' });
      await cache.recordOp(tx, OpType.Insert, 'res', { id: name });
      await cache.recordCompensation(tx, OpType.Delete, 'res', { id: name });
      await cache.commit(tx);
      steps.push(tx);
    }
    expect(await store.find('res')).toHaveLength(2);
    const before = await store.lastSyncId();
    expect(await cache.compensateSaga('deploy-1')).toEqual([...steps].reverse());
    expect(await store.find('res')).toEqual([]);
    expect(await cache.compensateSaga('deploy-1')).toEqual([]);
    expect(await store.lastSyncId()).toBe(before + 4);
  });

  it('cleanup removes finished transactions older than the ttl, with no cap', async () => {
    const store = memoryStore();
    const cache = new TxCache(store);
    for (let i = 0; i < 30; i++) {
      const tx = await cache.beginTx();
      await cache.commit(tx);
    }
    const open = await cache.beginTx();
    expect(await cache.cleanup(0)).toBe(30);
    expect((await cache.getPending()).map((t) => t.txId)).toEqual([open]);
  });
});

describe('SyncState', () => {
  it('persists in the store and never moves backwards', async () => {
    const adapter = new MemoryAdapter();
    const sync = new SyncState(openStore(adapter), registry());
    await sync.recordChange(Tier.Edge, 5);
    await sync.recordChange(Tier.Edge, 3);
    await sync.recordChange(Tier.Edge, 5);
    expect(await sync.getPendingChanges(Tier.Edge)).toEqual([3, 5]);
    await sync.markSynced(Tier.Edge, 4);
    await sync.markSynced(Tier.Edge, 2);
    const again = new SyncState(openStore(adapter), registry());
    expect(await again.getState(Tier.Edge)).toEqual({ syncedThrough: 4, pending: [5] });
    expect(await again.getState(Tier.Frontend)).toEqual({ syncedThrough: 0, pending: [] });
  });

  it('getDeltaSince returns the changes of registered collections, tombstones included, in pages', async () => {
    const store = memoryStore();
    const reg = registry();
    const t = new TriangularStore(store, reg);
    const sync = new SyncState(store, reg);
    await store.insert('unregistered', { id: 'x' });
    for (let i = 0; i < 5; i++) await t.saveObserved('container', `w${i}`, { i });
    await t.deleteWorker('container', 'w0');
    const got: [string, boolean][] = [];
    let cursor = 0;
    for (;;) {
      const delta = await sync.getDeltaSince(Tier.Frontend, cursor, { limit: 2 });
      got.push(...delta.changes.map((c) => [c.id, c.deleted] as [string, boolean]));
      cursor = delta.cursor;
      if (!delta.hasMore) break;
    }
    expect(got).toEqual([['w1', false], ['w2', false], ['w3', false], ['w4', false], ['w0', true]]);
  });

  it('getDeltaSince for the Edge holds only Desired collections (the only ones a Frontend writes)', async () => {
    const store = memoryStore();
    const reg = registry();
    const t = new TriangularStore(store, reg);
    const sync = new SyncState(store, reg);
    await t.saveIdentity('container', 'w1', { image: 'a' });
    await t.saveDesired('container', 'w1', { state: 'on' });
    await t.saveObserved('container', 'w1', { state: 'off' });
    const edge = await sync.getDeltaSince(Tier.Edge, 0);
    expect(edge.changes.map((c) => c.collection)).toEqual(['container_desired']);
    const frontend = await sync.getDeltaSince(Tier.Frontend, 0);
    expect(frontend.changes.map((c) => c.collection)).toEqual(['container_identity', 'container_desired', 'container_observed']);
  });

  it('recordChange writes one small document per change, and concurrent recorders lose none', async () => {
    const store = memoryStore();
    const sync = new SyncState(store, registry());
    await Promise.all(Array.from({ length: 40 }, (_, i) => sync.recordChange(Tier.Edge, i + 1)));
    expect(await sync.getPendingChanges(Tier.Edge)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    // Recording the 41st does not rewrite the 40 before it: one write, one sync id.
    const before = await store.lastSyncId();
    await sync.recordChange(Tier.Edge, 41);
    expect(await store.lastSyncId()).toBe(before + 1);
    await sync.recordChange(Tier.Edge, 41);
    expect(await store.lastSyncId()).toBe(before + 1);
    await sync.markSynced(Tier.Edge, 30);
    expect(await sync.getState(Tier.Edge)).toEqual({ syncedThrough: 30, pending: [31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41] });
  });

  it('keeps each peer\'s acknowledgement apart from the tier\'s, never moving back', async () => {
    const adapter = new MemoryAdapter();
    const sync = new SyncState(openStore(adapter), registry());
    await sync.recordChange(Tier.Edge, 7);
    await sync.markSynced(Tier.Edge, 5, { peer: 'replica-a' });
    await sync.markSynced(Tier.Edge, 9, { peer: 'replica-b' });
    await sync.markSynced(Tier.Edge, 3, { peer: 'replica-b' });
    const again = new SyncState(openStore(adapter), registry());
    expect((await again.listPeers(Tier.Edge)).map((p) => [p.peer, p.syncedThrough])).toEqual([
      ['replica-a', 5],
      ['replica-b', 9],
    ]);
    expect(await again.getState(Tier.Edge, { peer: 'replica-a' })).toEqual({ syncedThrough: 5, pending: [7] });
    expect(await again.getState(Tier.Edge)).toEqual({ syncedThrough: 0, pending: [7] });
    expect(await again.listPeers(Tier.Frontend)).toEqual([]);
    expect(isCseError(await rejection(again.markSynced(Tier.Edge, 1, { peer: '' })), 'VALIDATION')).toBe(true);
  });
});

describe('ObjectPool', () => {
  it('concurrent callers share one creation and each holds a reference', async () => {
    const pool = new ObjectPool<{ closed: boolean; close(): void }>();
    let made = 0;
    const factory = async () => {
      made++;
      await new Promise((r) => setTimeout(r, 10));
      return { closed: false, close() { this.closed = true; } };
    };
    const [a, b] = await Promise.all([pool.getOrCreate('k', factory), pool.getOrCreate('k', factory)]);
    expect(made).toBe(1);
    expect(a).toBe(b);
    expect(pool.refCount('k')).toBe(2);
    await pool.release('k');
    expect(a.closed).toBe(false);
    await pool.release('k');
    expect(a.closed).toBe(true);
    expect(pool.has('k')).toBe(false);
    expect((await rejection(pool.release('k'))).code).toBe('NOT_FOUND');
    expect(() => pool.acquire('k')).toThrow(/no pooled object/);
  });

  it('a slow factory never blocks other keys; a failed factory stores nothing', async () => {
    const pool = new ObjectPool<string>();
    let unblock: (v: string) => void = () => {};
    const slow = pool.getOrCreate('slow', () => new Promise<string>((r) => (unblock = r)));
    expect(await pool.getOrCreate('fast', () => 'fast')).toBe('fast');
    unblock('slow');
    expect(await slow).toBe('slow');
    expect((await rejection(pool.getOrCreate('bad', () => Promise.reject(new Error('nope'))))).message).toBe('nope');
    expect(pool.has('bad')).toBe(false);
    expect(pool.size).toBe(2);
  });

  it('disposes with Symbol.asyncDispose and clear() disposes everything', async () => {
    const pool = new ObjectPool<object>();
    const disposed: string[] = [];
    await pool.getOrCreate('a', () => ({ [Symbol.asyncDispose]: async () => void disposed.push('a') }));
    await pool.getOrCreate('b', () => ({ close: () => void disposed.push('b') }));
    pool.acquire('a');
    await pool.clear();
    expect(disposed.sort()).toEqual(['a', 'b']);
    expect(pool.size).toBe(0);
  });
});
