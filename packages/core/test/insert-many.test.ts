import { describe, expect, it } from 'vitest';
import type { AdapterCapabilities, SequenceState, StorageAdapter, StoredRecord } from '@cse/core';
import { MemoryAdapter, defineCapabilities, openStore } from '@cse/core';
import { memoryStore, rejection } from './helpers.js';

describe('Store.insertMany', () => {
  it('writes every document in one commit, with consecutive sync ids, and returns them in order', async () => {
    const store = memoryStore();
    await store.insert('other', { id: 'x' });
    const docs = await store.insertMany('pumps', [
      { id: 'p1', rpm: 1 },
      { id: 'p2', rpm: 2, nested: { a: [1, 2] } },
      { id: 'p3', rpm: 3 },
    ]);
    expect(docs.map((d) => [d.id, d._sync_id, d._version])).toEqual([
      ['p1', 2, 1],
      ['p2', 3, 1],
      ['p3', 4, 1],
    ]);
    // One commit: one timestamp for all of them.
    expect(new Set(docs.map((d) => d._created_at)).size).toBe(1);
    expect(await store.get('pumps', 'p2')).toEqual(docs[1]);
    expect(await store.lastSyncId()).toBe(4);
    expect(await store.insertMany('pumps', [])).toEqual([]);
    expect(await store.lastSyncId()).toBe(4);
  });

  it('keeps no reference to the caller’s objects, and strips metadata the caller passed', async () => {
    const store = memoryStore();
    const input = { id: 'a', inner: { v: 1 }, _version: 99, _sync_id: 7 };
    const [doc] = await store.insertMany('c', [input]);
    input.inner.v = 2;
    expect(doc?.inner).toEqual({ v: 1 });
    expect((await store.get('c', 'a'))?.inner).toEqual({ v: 1 });
    expect(doc?._version).toBe(1);
    expect(doc?._sync_id).toBe(1);
  });

  it('rejects bad input with VALIDATION naming the document, before anything is written', async () => {
    const store = memoryStore();
    const cases: [unknown, RegExp][] = [
      [[{ id: 'a' }, { id: 'b', when: new Date() }], /docs\[1\]/],
      [[{ id: 'a' }, { id: '' }], /docs\[1\]/],
      [[{ id: 'a' }, { id: 'b' }, { id: 'a' }], /appears twice/],
      [[{ id: 'a' }, null], /docs\[1\]/],
      [[{ id: 'a', _secret: 1 }], /docs\[0\]/],
      ['not an array', /array/],
    ];
    for (const [docs, message] of cases) {
      const e = await rejection(store.insertMany('c', docs as never));
      expect(e.code).toBe('VALIDATION');
      expect(e.message).toMatch(message);
    }
    expect((await rejection(store.insertMany('_system', [{ id: 'a' }]))).code).toBe('VALIDATION');
    expect(await store.lastSyncId()).toBe(0);
    expect(await store.find('c')).toEqual([]);
  });

  it('fails whole with CONFLICT when one id is taken, and replaces tombstones with continuing versions', async () => {
    const store = memoryStore();
    await store.insert('c', { id: 'live', v: 1 });
    await store.insert('c', { id: 'gone', v: 1 });
    await store.delete('c', 'gone');
    const before = await store.lastSyncId();
    const e = await rejection(store.insertMany('c', [{ id: 'new1' }, { id: 'live', v: 2 }, { id: 'new2' }]));
    expect(e.code).toBe('CONFLICT');
    expect((e.current as { id: string; v: number }).v).toBe(1);
    expect(await store.lastSyncId()).toBe(before);
    expect(await store.get('c', 'new1')).toBeUndefined();
    const [again, fresh] = await store.insertMany('c', [{ id: 'gone', v: 3 }, { id: 'new1' }]);
    expect(again?._version).toBe(3); // 1 insert, 2 tombstone, 3 the new document
    expect(fresh?._version).toBe(1);
  });
});

/** A MemoryAdapter that counts its calls and, if told so, reads a page with its counter in one call. */
class CountingAdapter extends MemoryAdapter {
  readonly calls: string[] = [];
  override readonly capabilities: Readonly<AdapterCapabilities>;

  constructor(together: boolean) {
    super();
    this.capabilities = defineCapabilities({ compaction: true, changeFeed: true, sequencedChanges: together });
  }

  override async changes(after: number, options: { readonly limit: number; readonly collections?: readonly string[] }): Promise<StoredRecord[]> {
    this.calls.push('changes');
    return super.changes(after, options);
  }

  override async sequence(): Promise<SequenceState> {
    this.calls.push('sequence');
    return super.sequence();
  }

  async changesWithSequence(after: number, options: { readonly limit: number; readonly collections?: readonly string[] }): Promise<{ records: StoredRecord[]; sequence: SequenceState }> {
    this.calls.push('changesWithSequence');
    // The memory adapter is synchronous underneath: both reads see one state.
    const [records, sequence] = await Promise.all([super.changes(after, options), super.sequence()]);
    return { records, sequence };
  }
}

describe('changesSince and the sequencedChanges capability', () => {
  it('reads a page with one adapter call when the adapter declares it, with two otherwise, and returns the same', async () => {
    const pages: unknown[] = [];
    for (const together of [true, false]) {
      const adapter = new CountingAdapter(together);
      const store = openStore(adapter as StorageAdapter, { clock: () => new Date(0) });
      await store.insertMany('c', Array.from({ length: 7 }, (_, i) => ({ id: `d${i}` })));
      adapter.calls.length = 0;
      const page = await store.changesSince(2, { limit: 3 });
      expect(adapter.calls).toEqual(together ? ['changesWithSequence'] : ['sequence', 'changes']);
      pages.push(page);
      await expect(store.changesSince(8)).rejects.toMatchObject({ code: 'RESET_REQUIRED' });
    }
    expect(pages[0]).toEqual(pages[1]);
    expect((pages[0] as { changes: { syncId: number }[] }).changes.map((c) => c.syncId)).toEqual([3, 4, 5]);
  });
});
