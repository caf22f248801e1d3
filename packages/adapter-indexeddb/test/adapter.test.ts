import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '@cse/core';
import type { CommitRequest, StorageAdapter, WriteOp } from '@cse/core';
import { IndexedDbAdapter } from '@cse/adapter-indexeddb';
import { freshName, openAdapter } from './env.js';

const now = '2026-01-01T00:00:00.000Z';
const put = (collection: string, id: string, body: Record<string, unknown> = {}, expect?: WriteOp['expect']): WriteOp => ({
  collection,
  id,
  kind: 'put',
  body: { ...body, id } as WriteOp['body'],
  ...(expect ? { expect } : {}),
});
const req = (...writes: WriteOp[]): CommitRequest => ({ writes, now });

const open: StorageAdapter[] = [];
async function adapter(name = freshName()): Promise<IndexedDbAdapter> {
  const a = await openAdapter(name);
  open.push(a);
  return a;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((a) => a.close()));
});

describe('IndexedDbAdapter', () => {
  it('declares its capabilities', async () => {
    const a = await adapter();
    expect(a.capabilities).toEqual({ persistent: true, crashSafe: false, multiProcess: true, compaction: true, changeFeed: true, sequencedChanges: true, indexes: true });
    expect(Object.isFrozen(a.capabilities)).toBe(true);
  });

  it('commits a batch with consecutive ids and reads it back', async () => {
    const a = await adapter();
    const result = await a.commit(req(put('plants', 'a', { n: 1 }), put('plants', 'b', { n: 2 }), put('lines', 'a', { n: 3 })));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.records.map((r) => r.syncId)).toEqual([1, 2, 3]);
    const [ra, rb, missing] = await a.getMany([
      { collection: 'plants', id: 'a' },
      { collection: 'plants', id: 'b' },
      { collection: 'plants', id: 'zz' },
    ]);
    expect(ra?.doc).toMatchObject({ id: 'a', n: 1, _version: 1, _sync_id: 1 });
    expect(rb?.doc).toMatchObject({ n: 2, _sync_id: 2 });
    expect(missing).toBeUndefined();
    expect(await a.sequence()).toEqual({ lastSyncId: 3, compactedThrough: 0 });
    expect(await a.listCollections()).toEqual(['lines', 'plants']);
    expect((await a.scanCollection('plants')).map((r) => r.id).sort()).toEqual(['a', 'b']);
    expect(await a.scanCollection('nothing')).toEqual([]);
  });

  it('keeps ids apart whatever they contain', async () => {
    const a = await adapter();
    const ids = ['a', 'a\u0000b', 'a\u0000', '\u0000', 'x/y', "'; DROP TABLE docs; --", '__proto__', 'constructor', '\u{1F600}'];
    const r = await a.commit(req(...ids.map((id, n) => put('c', id, { n }))));
    expect(r.ok).toBe(true);
    const back = await a.getMany(ids.map((id) => ({ collection: 'c', id })));
    expect(back.map((x) => x?.doc['n'])).toEqual(ids.map((_, n) => n));
    // A collection name that prefixes another never leaks into it.
    await a.commit(req(put('c2', 'a', {})));
    expect((await a.scanCollection('c')).length).toBe(ids.length);
  });

  it('checks preconditions and writes nothing when one fails', async () => {
    const a = await adapter();
    await a.commit(req(put('c', 'x', { v: 1 })));
    const failed = await a.commit(req(put('c', 'y', {}), put('c', 'x', { v: 2 }, { kind: 'version', version: 7 })));
    expect(failed.ok).toBe(false);
    if (failed.ok) return;
    expect(failed.failures).toHaveLength(1);
    expect(failed.failures[0]?.index).toBe(1);
    expect(failed.failures[0]?.current?.version).toBe(1);
    expect(await a.getMany([{ collection: 'c', id: 'y' }])).toEqual([undefined]);
    expect((await a.sequence()).lastSyncId).toBe(1);
    const ok = await a.commit(req(put('c', 'x', { v: 2 }, { kind: 'version', version: 1 })));
    expect(ok.ok && ok.records[0]?.version).toBe(2);
  });

  it('takes no ids for a commit of checks only', async () => {
    const a = await adapter();
    await a.commit(req(put('c', 'x')));
    const r = await a.commit(req({ collection: 'c', id: 'x', kind: 'check', expect: { kind: 'exists' } }));
    expect(r).toEqual({ ok: true, records: [] });
    expect((await a.sequence()).lastSyncId).toBe(1);
  });

  it('returns changes after a cursor, ascending, each document once, filtered by collection', async () => {
    const a = await adapter();
    await a.commit(req(put('a', '1'), put('b', '1'), put('a', '2')));
    await a.commit(req(put('a', '1', { again: true }), put('c', '1')));
    const all = await a.changes(0, { limit: 100 });
    expect(all.map((r) => [r.collection, r.id, r.syncId])).toEqual([
      ['b', '1', 2],
      ['a', '2', 3],
      ['a', '1', 4],
      ['c', '1', 5],
    ]);
    expect((await a.changes(3, { limit: 1 })).map((r) => r.syncId)).toEqual([4]);
    expect((await a.changes(0, { limit: 2, collections: ['a', 'c'] })).map((r) => r.syncId)).toEqual([3, 4]);
    expect((await a.changes(4, { limit: 10, collections: ['a', 'c', 'c'] })).map((r) => r.syncId)).toEqual([5]);
    expect(await a.changes(0, { limit: 10, collections: [] })).toEqual([]);
    expect(await a.changes(5, { limit: 10 })).toEqual([]);
  });

  it('keeps tombstones, and compaction drops old ones and raises the watermark', async () => {
    const a = await adapter();
    await a.commit(req(put('c', 'x'), put('c', 'y')));
    await a.commit(req({ collection: 'c', id: 'x', kind: 'delete' }));
    const [tomb] = await a.getMany([{ collection: 'c', id: 'x' }]);
    expect(tomb).toMatchObject({ deleted: true, version: 2, syncId: 3 });
    expect(tomb?.doc).toMatchObject({ _deleted: true });
    await a.commit(req({ collection: 'c', id: 'y', kind: 'delete' }));
    expect(await a.compact(3)).toBe(1);
    expect(await a.getMany([{ collection: 'c', id: 'x' }, { collection: 'c', id: 'y' }])).toEqual([undefined, expect.objectContaining({ deleted: true })]);
    expect(await a.sequence()).toEqual({ lastSyncId: 4, compactedThrough: 3 });
    expect(await a.compact(1)).toBe(0);
    expect((await a.sequence()).compactedThrough).toBe(3);
  });

  it('hands out copies', async () => {
    const a = await adapter();
    await a.commit(req(put('c', 'x', { nested: { n: 1 } })));
    const [first] = await a.getMany([{ collection: 'c', id: 'x' }]);
    (first?.doc['nested'] as { n: number }).n = 99;
    const [second] = await a.getMany([{ collection: 'c', id: 'x' }]);
    expect(second?.doc['nested']).toEqual({ n: 1 });
  });

  it('keeps records and the counter across close and reopen', async () => {
    const name = freshName();
    const first = await openAdapter(name);
    await first.commit(req(put('c', 'x', { kept: true })));
    await first.close();
    const again = await adapter(name);
    expect((await again.getMany([{ collection: 'c', id: 'x' }]))[0]?.doc['kept']).toBe(true);
    const r = await again.commit(req(put('c', 'y')));
    expect(r.ok && r.records[0]?.syncId).toBe(2);
  });

  it('keeps two database names apart', async () => {
    const one = await adapter();
    const two = await adapter();
    await one.commit(req(put('c', 'x')));
    expect(await two.getMany([{ collection: 'c', id: 'x' }])).toEqual([undefined]);
    expect(await two.sequence()).toEqual({ lastSyncId: 0, compactedThrough: 0 });
    expect(await two.listCollections()).toEqual([]);
  });

  it('serves a Store end to end', async () => {
    const store = openStore(await adapter());
    const doc = await store.insert('workers', { id: 'w1', state: 'idle' });
    expect(doc).toMatchObject({ _version: 1 });
    await store.update('workers', { id: 'w1', state: 'running' }, { expectedVersion: 1 });
    await store.delete('workers', 'w1');
    expect(await store.get('workers', 'w1')).toBeUndefined();
    const page = await store.changesSince(0);
    expect(page.changes).toHaveLength(1);
    expect(page.changes[0]).toMatchObject({ id: 'w1', deleted: true, version: 3 });
  });
});
