import { afterEach, describe, expect, it } from 'vitest';
import type { CommitRequest, StoredRecord } from '@cse/core';
import type { IndexedDbAdapter } from '@cse/adapter-indexeddb';
import { freshName, openAdapter } from './env.js';

const now = '2026-01-01T00:00:00.000Z';
const insert = (id: string, writer: number): CommitRequest => ({
  writes: [{ collection: 'c', id, kind: 'put', body: { id, writer }, expect: { kind: 'absent' } }],
  now,
});

// Two connections to one database are what two tabs are: separate IDBDatabase objects whose
// transactions IndexedDB orders against each other.
const tabs: IndexedDbAdapter[] = [];
async function twoTabs(): Promise<[IndexedDbAdapter, IndexedDbAdapter]> {
  const name = freshName('tabs');
  const pair: [IndexedDbAdapter, IndexedDbAdapter] = [await openAdapter(name), await openAdapter(name)];
  tabs.push(...pair);
  return pair;
}
afterEach(async () => {
  await Promise.all(tabs.splice(0).map((t) => t.close()));
});

describe('two connections to one database', () => {
  it('hand out unique, increasing ids while both write at once', async () => {
    const [a, b] = await twoTabs();
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b).commit(insert(`doc-${i}`, i % 2))),
    );
    const ids = results.flatMap((r) => (r.ok ? r.records.map((x) => x.syncId) : []));
    expect(ids).toHaveLength(40);
    expect(new Set(ids).size).toBe(40);
    expect([...ids].sort((x, y) => x - y)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    // Each connection's own commits resolve in the order it issued them.
    for (const parity of [0, 1]) {
      const mine = ids.filter((_, i) => i % 2 === parity);
      expect(mine).toEqual([...mine].sort((x, y) => x - y));
    }
    expect((await a.sequence()).lastSyncId).toBe(40);
    expect((await b.sequence()).lastSyncId).toBe(40);
  });

  it('let exactly one writer win per expected version', async () => {
    const [a, b] = await twoTabs();
    await a.commit(insert('x', 0));
    const attempt = (tab: IndexedDbAdapter, n: number) =>
      tab.commit({ writes: [{ collection: 'c', id: 'x', kind: 'put', body: { id: 'x', n }, expect: { kind: 'version', version: 1 } }], now });
    const results = await Promise.all(Array.from({ length: 10 }, (_, n) => attempt(n % 2 === 0 ? a : b, n)));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    for (const r of results) if (!r.ok) expect(r.failures[0]?.current?.version).toBe(2);
    const [stored] = await b.getMany([{ collection: 'c', id: 'x' }]);
    expect(stored?.version).toBe(2);
  });

  it('let a reader on either connection miss nothing while both write', async () => {
    const [a, b] = await twoTabs();
    const total = 60;
    const writers = Promise.all(Array.from({ length: total }, (_, i) => (i % 2 === 0 ? a : b).commit(insert(`d${i}`, i % 2))));
    const readers = [a, b].map(async (tab) => {
      const seen: StoredRecord[] = [];
      let cursor = 0;
      while (seen.length < total) {
        const page = await tab.changes(cursor, { limit: 7 });
        for (const r of page) {
          expect(r.syncId).toBeGreaterThan(cursor);
          cursor = r.syncId;
          seen.push(r);
        }
      }
      return seen.map((r) => r.syncId);
    });
    await writers;
    const [fromA, fromB] = await Promise.all(readers);
    const expected = Array.from({ length: total }, (_, i) => i + 1);
    expect(fromA).toEqual(expected);
    expect(fromB).toEqual(expected);
  });
});
