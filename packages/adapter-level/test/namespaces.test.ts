import { describe, expect, it } from 'vitest';
import { MemoryLevel } from 'memory-level';
import { LevelAdapter } from '@cse/adapter-level';
import { NOW, commitOk, put } from './helpers.js';

/** A real memory-level database that does not offer explicit snapshots, like some abstract-level backends. */
class NoSnapshotLevel extends MemoryLevel<string, string> {
  constructor() {
    super();
    this.supports = { ...this.supports, explicitSnapshots: false };
  }
}

describe('namespaces on one database', () => {
  it('keeps documents and counters of two namespaces and the root apart (memory-level)', async () => {
    const db = new MemoryLevel();
    const a = new LevelAdapter({ db, namespace: 'plant-a' });
    const b = new LevelAdapter({ db, namespace: 'plant-b' });
    const root = new LevelAdapter({ db });
    await commitOk(a, put('users', 'u1', { from: 'a' }), put('users', 'u2', { from: 'a' }));
    await commitOk(b, put('users', 'u1', { from: 'b' }));
    await commitOk(root, put('orders', 'o1'));

    expect(await a.sequence()).toEqual({ lastSyncId: 2, compactedThrough: 0 });
    expect(await b.sequence()).toEqual({ lastSyncId: 1, compactedThrough: 0 });
    expect(await root.sequence()).toEqual({ lastSyncId: 1, compactedThrough: 0 });
    expect((await b.getMany([{ collection: 'users', id: 'u1' }]))[0]?.doc['from']).toBe('b');
    expect(await b.getMany([{ collection: 'users', id: 'u2' }])).toEqual([undefined]);
    expect((await a.scanCollection('users')).map((r) => r.doc['from'])).toEqual(['a', 'a']);
    expect(await root.listCollections()).toEqual(['orders']);
    expect(await a.listCollections()).toEqual(['users']);
    expect((await b.changes(0, { limit: 10 })).map((r) => r.id)).toEqual(['u1']);
    expect(await root.scanCollection('users')).toEqual([]);
    expect(await a.compact(2)).toBe(0);
    expect((await b.sequence()).compactedThrough).toBe(0);
    await Promise.all([a.close(), b.close(), root.close()]);
    expect(db.status).toBe('open');
    await db.close();
  });

  it('treats a sublevel passed as `db` like a namespace, nested namespaces included', async () => {
    const db = new MemoryLevel();
    const viaSublevel = new LevelAdapter({ db: db.sublevel('tenant') });
    const viaNamespace = new LevelAdapter({ db, namespace: 'tenant' });
    const nested = new LevelAdapter({ db: db.sublevel('tenant'), namespace: 'inner' });
    await commitOk(viaSublevel, put('c', 'x'));
    // The same key space: same documents, same counter.
    expect((await viaNamespace.getMany([{ collection: 'c', id: 'x' }]))[0]?.syncId).toBe(1);
    expect((await commitOk(viaNamespace, put('c', 'y'))).records[0]?.syncId).toBe(2);
    // The nested store is its own.
    expect(await nested.listCollections()).toEqual([]);
    expect((await commitOk(nested, put('c', 'x'))).records[0]?.syncId).toBe(1);
    expect(await viaSublevel.listCollections()).toEqual(['c']);
    expect((await viaSublevel.scanCollection('c')).map((r) => r.id).sort()).toEqual(['x', 'y']);
    await db.close();
  });

  it('serialises commits of two adapters on one key space: exactly one of N inserts wins', async () => {
    const db = new MemoryLevel();
    const adapters = [new LevelAdapter({ db, namespace: 'shared' }), new LevelAdapter({ db: db.sublevel('shared') })];
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        adapters[i % 2]!.commit({ writes: [put('c', 'only', { i }, { kind: 'absent' })], now: NOW }),
      ),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(await adapters[0]!.sequence()).toEqual({ lastSyncId: 1, compactedThrough: 0 });
    await db.close();
  });

  it('reads consistently without explicit snapshots, under the commit lock', async () => {
    const db = new NoSnapshotLevel();
    const adapter = new LevelAdapter({ db, namespace: 'n' });
    const seen: number[][] = [];
    const writers = Array.from({ length: 30 }, (_, i) => commitOk(adapter, put('c', `a${i}`), put('c', `b${i}`)));
    const readers = Array.from({ length: 30 }, async () => seen.push((await adapter.changes(0, { limit: 1000 })).map((r) => r.syncId)));
    await Promise.all([...writers, ...readers]);
    for (const ids of seen) {
      // A prefix of whole commits: 1..2k, never a gap, never half a commit.
      expect(ids).toEqual(ids.map((_, i) => i + 1));
      expect(ids.length % 2).toBe(0);
    }
    expect((await adapter.listCollections())).toEqual(['c']);
    await db.close();
  });
});
