// Index names are case-sensitive, as collections and fields are: SQLite identifiers are not, so
// the adapter must keep `Cat` beside `cat` and `Items.cat` beside `items.cat` (issue 27).
import BetterSqlite3 from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { MemoryAdapter, openStore } from '@cse/core';
import type { Store } from '@cse/core';
import { SqliteAdapter } from '@cse/adapter-sqlite';
import { tempDb } from './helpers.js';

async function fill(store: Store): Promise<void> {
  for (const c of ['items', 'Items']) {
    for (let i = 0; i < 6; i++) await store.insert(c, { id: `d${i}`, cat: `c${i % 2}`, Cat: `c${i % 3}` });
  }
}

const ids = async (store: Store, c: string, f: string, v: string): Promise<string[]> => (await store.find(c, { filter: { [f]: v } })).map((d) => d.id).sort();

describe('SQLite index names', () => {
  it('createIndex on names that differ only in case makes distinct indexes; dropIndex drops only its own', async () => {
    const store = openStore(new SqliteAdapter({ path: tempDb() }));
    const oracle = openStore(new MemoryAdapter());
    await fill(store);
    await fill(oracle);
    for (const [c, f] of [
      ['items', 'cat'],
      ['items', 'Cat'],
      ['Items', 'cat'],
    ] as const) {
      await store.createIndex(c, f);
      await oracle.createIndex(c, f);
    }
    expect(await store.listIndexes()).toEqual([
      { collection: 'Items', field: 'cat' },
      { collection: 'items', field: 'Cat' },
      { collection: 'items', field: 'cat' },
    ]);
    expect(await store.listIndexes()).toEqual(await oracle.listIndexes());
    for (const c of ['items', 'Items']) for (const f of ['cat', 'Cat']) for (const v of ['c0', 'c1', 'c2']) expect(await ids(store, c, f, v)).toEqual(await ids(oracle, c, f, v));
    await store.dropIndex('items', 'Cat');
    expect(await store.listIndexes()).toEqual([
      { collection: 'Items', field: 'cat' },
      { collection: 'items', field: 'cat' },
    ]);
    // The index that stays still answers: findIndexed goes through it.
    expect((await store.adapter.findIndexed?.('items', [{ field: 'cat', selectors: [{ kind: 'eq', value: 'c1' }] }]))?.map((r) => r.id).sort()).toEqual(['d1', 'd3', 'd5']);
    expect(await store.adapter.findIndexed?.('items', [{ field: 'Cat', selectors: [{ kind: 'eq', value: 'c1' }] }])).toBeUndefined();
    await store.close();
    await oracle.close();
  });

  it('an index made by an earlier release (old name) is listed, used and dropped under its own name', async () => {
    const path = tempDb();
    const first = openStore(new SqliteAdapter({ path }));
    await fill(first);
    await first.close();
    const db = new BetterSqlite3(path);
    db.exec(`CREATE INDEX "cse_ix:items:Cat" ON cse_docs (json_type(doc, '$.Cat'), json_extract(doc, '$.Cat')) WHERE collection = 'items'`);
    db.close();
    const store = openStore(new SqliteAdapter({ path }));
    expect(await store.listIndexes()).toEqual([{ collection: 'items', field: 'Cat' }]);
    expect((await store.adapter.findIndexed?.('items', [{ field: 'Cat', selectors: [{ kind: 'eq', value: 'c2' }] }]))?.map((r) => r.id).sort()).toEqual(['d2', 'd5']);
    await store.createIndex('items', 'Cat'); // exists: a no-op
    await store.createIndex('items', 'cat');
    expect(await store.listIndexes()).toEqual([
      { collection: 'items', field: 'Cat' },
      { collection: 'items', field: 'cat' },
    ]);
    await store.dropIndex('items', 'Cat');
    expect(await store.listIndexes()).toEqual([{ collection: 'items', field: 'cat' }]);
    await store.close();
  });
});
