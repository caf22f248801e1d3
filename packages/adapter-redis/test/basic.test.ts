import { afterEach, describe, expect, it } from 'vitest';
import { MemoryAdapter, isCseError, openStore } from '@cse/core';
import type { CommitRequest, JsonObject, StorageAdapter } from '@cse/core';
import { RedisAdapter, createAdapterFromUrl, parseRedisUrl } from '@cse/adapter-redis';
import { adapterOn, freshNamespace, storeUrl, targets } from './targets.js';

const opened: StorageAdapter[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((a) => a.close()));
});

const T = (n: number): string => new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString();

/** A sequence touching every rule of planCommit: insert, update, delete, re-create, checks, failures. */
const script: CommitRequest[] = [
  { now: T(1), writes: [{ collection: 'a', id: 'x', kind: 'put', body: { id: 'x', n: 1, big: 9007199254740991, huge: 1e300, neg: -5e-324, f: 0.1, nested: { l: [1, 'two', null, true] } } }] },
  { now: T(2), writes: [{ collection: 'a', id: 'y', kind: 'put', body: { id: 'y' }, expect: { kind: 'absent' } }, { collection: 'b', id: 'x', kind: 'put', body: { id: 'x', v: 'b' } }] },
  { now: T(3), writes: [{ collection: 'a', id: 'x', kind: 'put', body: { id: 'x', n: 2 }, expect: { kind: 'version', version: 1 } }] },
  { now: T(4), writes: [{ collection: 'a', id: 'x', kind: 'put', body: { id: 'x', n: 3 }, expect: { kind: 'version', version: 1 } }] },
  { now: T(5), writes: [{ collection: 'a', id: 'y', kind: 'delete' }, { collection: 'a', id: 'x', kind: 'check', expect: { kind: 'exists' } }] },
  { now: T(6), writes: [{ collection: 'a', id: 'y', kind: 'put', body: { id: 'y', again: true }, expect: { kind: 'absent' } }] },
  { now: T(7), writes: [{ collection: 'a', id: 'x', kind: 'check', expect: { kind: 'version', version: 2 } }] },
  { now: T(8), writes: [{ collection: 'b', id: 'x', kind: 'delete' }, { collection: 'b', id: 'gone', kind: 'put', body: { id: 'gone' }, expect: { kind: 'exists' } }] },
  { now: T(9), writes: [{ collection: 'b', id: 'x', kind: 'delete' }, { collection: 'c', id: 'z', kind: 'put', body: JSON.parse('{"id":"z","__proto__":{"polluted":1}}') as JsonObject }] },
  { now: T(10), writes: [{ collection: 'a', id: 'x', kind: 'delete', expect: { kind: 'version', version: 2 } }, { collection: 'a', id: 'q', kind: 'check', expect: { kind: 'absent' } }] },
  { now: T(11), writes: [{ collection: 'a', id: 'x', kind: 'put', body: { id: 'x', back: 1 } }] },
];

describe.each(targets)('RedisAdapter on a $name', (target) => {
  it('behaves exactly like MemoryAdapter on the same commits', async () => {
    const redis = adapterOn(target, freshNamespace('oracle'));
    const memory = new MemoryAdapter();
    opened.push(redis, memory);
    for (const request of script) {
      expect(await redis.commit(request)).toEqual(await memory.commit(request));
      const keys = ['a', 'b', 'c'].flatMap((collection) => ['x', 'y', 'z', 'gone'].map((id) => ({ collection, id })));
      expect(await redis.getMany(keys)).toEqual(await memory.getMany(keys));
      expect(await redis.sequence()).toEqual(await memory.sequence());
      for (const after of [0, 2, 5]) {
        for (const collections of [undefined, ['a'], ['b', 'c'], []]) {
          const options = { limit: 3, ...(collections && { collections }) };
          expect(await redis.changes(after, options)).toEqual(await memory.changes(after, options));
        }
      }
      for (const c of ['a', 'b', 'c', 'none']) {
        const byId = (r: { id: string }, s: { id: string }): number => (r.id < s.id ? -1 : 1);
        expect((await redis.scanCollection(c)).sort(byId)).toEqual((await memory.scanCollection(c)).sort(byId));
      }
      expect(await redis.listCollections()).toEqual(await memory.listCollections());
    }
    expect(await redis.compact(9)).toBe(await memory.compact(9));
    expect(await redis.changes(0, { limit: 100 })).toEqual(await memory.changes(0, { limit: 100 }));
    expect(await redis.listCollections()).toEqual(await memory.listCollections());
    expect(await redis.sequence()).toEqual(await memory.sequence());
    expect(await redis.compact(3)).toBe(0);
    expect((await redis.sequence()).compactedThrough).toBe(9);
  });

  it('serves a Store through openStore(url): commit, get, changes, reopen', async () => {
    const url = storeUrl(target, freshNamespace('url'));
    const store = await openStore(url);
    const doc = await store.insert('plants', { id: 'p1', temp: 21.5 });
    expect(doc).toMatchObject({ id: 'p1', temp: 21.5, _version: 1, _sync_id: 1 });
    await store.update('plants', { id: 'p1', temp: 22 }, { expectedVersion: 1 });
    await store.insert('plants', { id: 'p2' });
    await store.delete('plants', 'p2');
    expect(await store.get('plants', 'p2')).toBeUndefined();
    const page = await store.changesSince(0);
    expect(page.changes.map((c) => c.doc._sync_id)).toEqual([2, 4]);
    await store.close();

    const again = await openStore(url);
    expect(await again.get('plants', 'p1')).toMatchObject({ temp: 22, _version: 2 });
    expect(await again.lastSyncId()).toBe(4);
    const err = await again.update('plants', { id: 'p1', temp: 0 }, { expectedVersion: 1 }).catch((e: unknown) => e);
    expect(isCseError(err, 'CONFLICT')).toBe(true);
    await again.close();
  });

  it('keeps namespaces apart, counters included', async () => {
    const a = adapterOn(target, freshNamespace('iso'));
    const b = adapterOn(target, freshNamespace('iso'));
    opened.push(a, b);
    await a.commit({ now: T(1), writes: [{ collection: 'c', id: 'same', kind: 'put', body: { id: 'same', who: 'a' } }] });
    await a.commit({ now: T(2), writes: [{ collection: 'c', id: 'other', kind: 'put', body: { id: 'other' } }] });
    expect(await b.getMany([{ collection: 'c', id: 'same' }])).toEqual([undefined]);
    expect(await b.changes(0, { limit: 10 })).toEqual([]);
    expect(await b.listCollections()).toEqual([]);
    expect(await b.sequence()).toEqual({ lastSyncId: 0, compactedThrough: 0 });
    const r = await b.commit({ now: T(3), writes: [{ collection: 'c', id: 'same', kind: 'put', body: { id: 'same', who: 'b' } }] });
    expect(r.ok && r.records[0]?.syncId).toBe(1);
    expect((await a.getMany([{ collection: 'c', id: 'same' }]))[0]?.doc.who).toBe('a');
  });

  it('keeps hostile namespaces and ids apart and returns them exactly', async () => {
    const namespaces = ['a}b', '{a', 'a', 'a:b', 'a:b}', '*', 'x%7D', 'x}', 'ns\u0000nul', 'ünï€😀', '{}'];
    const ids = ['{', '}', '{x}', ':', 'a:b', '*', '?', '[a-z]', '\u0000', 'a\u0000b', '\uD800', '\uDBFF', '\uDC00x', '😀', '"', '\\', 'a\\"b', ' ', 'ü', '__proto__', 'constructor'];
    const adapters = namespaces.map((ns) => adapterOn(target, `${freshNamespace('hostile')}${ns}`));
    opened.push(...adapters);
    for (const [n, adapter] of adapters.entries()) {
      const writes = ids.map((id, i) => ({ collection: 'docs', id, kind: 'put' as const, body: { id, n, i } }));
      const r = await adapter.commit({ now: T(1), writes });
      expect(r.ok).toBe(true);
    }
    for (const [n, adapter] of adapters.entries()) {
      const got = await adapter.getMany(ids.map((id) => ({ collection: 'docs', id })));
      expect(got.map((r) => r?.id)).toEqual(ids);
      expect(got.map((r) => r?.doc)).toEqual(ids.map((id, i) => expect.objectContaining({ id, n, i })));
      expect((await adapter.scanCollection('docs')).length).toBe(ids.length);
      expect((await adapter.changes(0, { limit: 1000 })).map((r) => r.id)).toEqual(ids);
      expect(await adapter.sequence()).toEqual({ lastSyncId: ids.length, compactedThrough: 0 });
    }
  });

  it('rejects bad namespaces and URLs with VALIDATION before connecting', () => {
    for (const namespace of ['', '\uD800', 'x'.repeat(257), 42 as unknown as string]) {
      let err: unknown;
      try {
        new RedisAdapter({ url: 'redis://127.0.0.1:1', namespace });
      } catch (e) {
        err = e;
      }
      expect(isCseError(err, 'VALIDATION')).toBe(true);
    }
    for (const url of ['redis://127.0.0.1:6379/', 'http://x/?namespace=a', 'redis://x/?namespace=a&cluster=maybe', 'redis://x/?namespace=a&commandTimeout=-1', 'nope']) {
      expect(() => createAdapterFromUrl(url)).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
    }
    expect(parseRedisUrl(storeUrl(target, 'plant-a'))).toMatchObject({ namespace: 'plant-a', cluster: target.cluster });
  });
});
