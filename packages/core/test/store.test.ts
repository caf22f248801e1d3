import { describe, expect, it } from 'vitest';
import { ConflictError, TxCache, isCseError, withRetry } from '@cse/core';
import { memoryStore, rejection } from './helpers.js';

describe('Store documents', () => {
  it('insert sets metadata: _version 1, a new _sync_id, timestamps', async () => {
    const store = memoryStore();
    const a = await store.insert('things', { id: 'a', n: 1 });
    const b = await store.insert('things', { id: 'b', n: 2 });
    expect(a).toMatchObject({ id: 'a', n: 1, _version: 1, _sync_id: 1 });
    expect(b._sync_id).toBe(2);
    expect(typeof a._created_at).toBe('string');
    expect(a._updated_at).toBe(a._created_at);
  });

  it('get returns undefined for a missing document, not an error', async () => {
    const store = memoryStore();
    expect(await store.get('things', 'nope')).toBeUndefined();
  });

  it('insert of an existing id is a CONFLICT carrying the stored document, and changes nothing', async () => {
    const store = memoryStore();
    await store.insert('things', { id: 'a', n: 1 });
    const e = await rejection(store.insert('things', { id: 'a', n: 2 }));
    expect(isCseError(e, 'CONFLICT')).toBe(true);
    expect((e as ConflictError).current).toMatchObject({ id: 'a', n: 1, _version: 1 });
    expect(await store.get('things', 'a')).toMatchObject({ n: 1, _version: 1 });
    expect(await store.lastSyncId()).toBe(1);
  });

  it('update is a full replacement that keeps _created_at and bumps _version', async () => {
    const store = memoryStore();
    const a = await store.insert('things', { id: 'a', n: 1, keep: true });
    const b = await store.update('things', { id: 'a', n: 2 });
    expect(b).toMatchObject({ id: 'a', n: 2, _version: 2, _sync_id: 2, _created_at: a._created_at });
    expect(b).not.toHaveProperty('keep');
    expect(b._updated_at > a._updated_at).toBe(true);
  });

  it('really checks expectedVersion: a stale writer gets CONFLICT with the current doc and nothing changes', async () => {
    const store = memoryStore();
    await store.insert('things', { id: 'a', n: 1 });
    await store.update('things', { id: 'a', n: 2 }, { expectedVersion: 1 });
    const e = await rejection(store.update('things', { id: 'a', n: 3 }, { expectedVersion: 1 }));
    expect(e.code).toBe('CONFLICT');
    expect((e as ConflictError).current).toMatchObject({ n: 2, _version: 2 });
    expect(await store.get('things', 'a')).toMatchObject({ n: 2, _version: 2 });
    expect(await store.lastSyncId()).toBe(2);
  });

  it('ignores metadata inside a document saved back as loaded: the version check is expectedVersion only', async () => {
    const store = memoryStore();
    const loaded = await store.insert('things', { id: 'a', n: 1 });
    await store.update('things', { id: 'a', n: 2 });
    // A stale loaded doc (with _version 1) saved back without expectedVersion is a plain write.
    const saved = await store.update('things', { ...loaded, n: 3, _version: 99, _sync_id: 1, _created_at: 'forged' });
    expect(saved).toMatchObject({ n: 3, _version: 3, _sync_id: 3, _created_at: loaded._created_at });
  });

  it('update of a missing document is NOT_FOUND', async () => {
    const store = memoryStore();
    expect((await rejection(store.update('things', { id: 'x' }))).code).toBe('NOT_FOUND');
    expect(await store.lastSyncId()).toBe(0);
  });

  it('upsert creates or replaces atomically; expectedVersion 0 means "must not exist"', async () => {
    const store = memoryStore();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.upsert('things', { id: 'a', i })));
    expect(new Set(results.map((r) => r._version)).size).toBe(20);
    expect((await store.get('things', 'a'))?._version).toBe(20);
    await store.upsert('things', { id: 'b' }, { expectedVersion: 0 });
    expect((await rejection(store.upsert('things', { id: 'b' }, { expectedVersion: 0 }))).code).toBe('CONFLICT');
  });

  it('delete writes a tombstone that syncs, and get/find hide it', async () => {
    const store = memoryStore();
    await store.insert('things', { id: 'a', n: 1 });
    const t = await store.delete('things', 'a');
    expect(t).toMatchObject({ id: 'a', _deleted: true, _version: 2, _sync_id: 2 });
    expect(t).not.toHaveProperty('n');
    expect(await store.get('things', 'a')).toBeUndefined();
    expect(await store.find('things')).toEqual([]);
    const page = await store.changesSince(0);
    expect(page.changes).toHaveLength(1);
    expect(page.changes[0]).toMatchObject({ collection: 'things', id: 'a', deleted: true, syncId: 2 });
    expect((await rejection(store.delete('things', 'a'))).code).toBe('NOT_FOUND');
  });

  it('re-inserting over a tombstone continues the version (no ABA for stale writers)', async () => {
    const store = memoryStore();
    await store.insert('things', { id: 'a' });
    await store.delete('things', 'a');
    const again = await store.insert('things', { id: 'a', back: true });
    expect(again._version).toBe(3);
    expect((await rejection(store.update('things', { id: 'a' }, { expectedVersion: 1 }))).code).toBe('CONFLICT');
  });

  it('never mutates caller objects and returns copies', async () => {
    const store = memoryStore();
    const input = { id: 'a', nested: { list: [1, 2] } };
    const frozen = JSON.stringify(input);
    const out = await store.insert('things', input);
    expect(JSON.stringify(input)).toBe(frozen);
    input.nested.list.push(3);
    out.nested = 'changed';
    const got = await store.get('things', 'a');
    expect(got?.nested).toEqual({ list: [1, 2] });
    (got?.nested as { list: number[] }).list.push(4);
    expect((await store.get('things', 'a'))?.nested).toEqual({ list: [1, 2] });
  });

  it('getMany reads several documents at once', async () => {
    const store = memoryStore();
    await store.insert('things', { id: 'a' });
    await store.insert('things', { id: 'b' });
    const [a, missing, b] = await store.getMany('things', ['a', 'zz', 'b']);
    expect(a?.id).toBe('a');
    expect(missing).toBeUndefined();
    expect(b?.id).toBe('b');
  });

  it('after close every call is CLOSED', async () => {
    const store = memoryStore();
    await store.close();
    expect((await rejection(store.get('things', 'a'))).code).toBe('CLOSED');
    expect((await rejection(store.insert('things', { id: 'a' }))).code).toBe('CLOSED');
    await store.close();
  });
});

describe('changesSince', () => {
  it('pages in ascending sync id order with hasMore, and the cursor never skips', async () => {
    const store = memoryStore();
    for (let i = 0; i < 25; i++) await store.insert('things', { id: `d${i}` });
    const seen: number[] = [];
    let cursor = 0;
    for (;;) {
      const page = await store.changesSince(cursor, { limit: 10 });
      seen.push(...page.changes.map((c) => c.syncId));
      cursor = page.cursor;
      if (!page.hasMore) break;
    }
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    expect((await store.changesSince(cursor)).changes).toEqual([]);
  });

  it('returns each document once, in its latest state', async () => {
    const store = memoryStore();
    await store.insert('things', { id: 'a', n: 1 });
    await store.insert('things', { id: 'b', n: 1 });
    await store.update('things', { id: 'a', n: 2 });
    const page = await store.changesSince(0);
    expect(page.changes.map((c) => [c.id, c.syncId])).toEqual([['b', 2], ['a', 3]]);
  });

  it('filters by collection and leaves system collections out', async () => {
    const store = memoryStore();
    await store.insert('one', { id: 'a' });
    await store.insert('two', { id: 'a' });
    expect((await store.changesSince(0, { collections: ['two'] })).changes.map((c) => c.collection)).toEqual(['two']);
  });

  it('moves the cursor past system records it skipped, so they are not read again', async () => {
    const store = memoryStore();
    await store.insert('things', { id: 'a' });
    const cache = new TxCache(store);
    for (let i = 0; i < 5; i++) await cache.beginTx();
    const page = await store.changesSince(0);
    expect(page.changes.map((c) => c.id)).toEqual(['a']);
    expect(page.cursor).toBe(await store.lastSyncId());
    expect(page.hasMore).toBe(false);
  });

  it('a cursor ahead of the store is RESET_REQUIRED; a bad cursor is VALIDATION', async () => {
    const store = memoryStore();
    await store.insert('things', { id: 'a' });
    expect((await rejection(store.changesSince(5))).code).toBe('RESET_REQUIRED');
    expect((await rejection(store.changesSince(-1))).code).toBe('VALIDATION');
    expect((await rejection(store.changesSince(0, { limit: 0 }))).code).toBe('VALIDATION');
  });

  it('compaction removes old tombstones and makes older cursors RESET_REQUIRED', async () => {
    const store = memoryStore();
    await store.insert('things', { id: 'a' });
    await store.insert('things', { id: 'b' });
    await store.delete('things', 'a');
    expect(await store.compact(3)).toBe(1);
    expect((await rejection(store.changesSince(1))).code).toBe('RESET_REQUIRED');
    expect((await store.changesSince(0)).changes.map((c) => c.id)).toEqual(['b']);
    expect((await store.changesSince(3)).changes).toEqual([]);
  });
});

describe('transactions', () => {
  it('commits all writes atomically with consecutive ids', async () => {
    const store = memoryStore();
    await store.insert('acct', { id: 'x', balance: 10 });
    await store.transaction(async (tx) => {
      const x = await tx.get('acct', 'x');
      await tx.update('acct', { id: 'x', balance: (x?.balance as number) - 5 });
      await tx.insert('acct', { id: 'y', balance: 5 });
    });
    expect((await store.get('acct', 'x'))?.balance).toBe(5);
    expect((await store.get('acct', 'y'))?._sync_id).toBe(3);
  });

  it('a conflicted transaction throws CONFLICT and changes nothing', async () => {
    const store = memoryStore();
    await store.insert('acct', { id: 'x', balance: 10 });
    const e = await rejection(
      store.transaction(async (tx) => {
        await tx.get('acct', 'x');
        await tx.insert('acct', { id: 'other' });
        await store.update('acct', { id: 'x', balance: 99 }); // a concurrent writer wins
        await tx.update('acct', { id: 'x', balance: 0 });
      }),
    );
    expect(e.code).toBe('CONFLICT');
    expect(await store.get('acct', 'other')).toBeUndefined();
    expect((await store.get('acct', 'x'))?.balance).toBe(99);
  });

  it('inserting a taken id in a transaction fails the whole transaction with CONFLICT', async () => {
    const store = memoryStore();
    await store.insert('t', { id: 'taken', n: 1 });
    const e = await rejection(
      store.transaction(async (tx) => {
        await tx.insert('t', { id: 'fresh' });
        await tx.insert('t', { id: 'taken', n: 2 });
      }),
    );
    expect(e.code).toBe('CONFLICT');
    expect((e as ConflictError).current).toMatchObject({ id: 'taken', n: 1 });
    expect(await store.get('t', 'fresh')).toBeUndefined();
    expect(await store.lastSyncId()).toBe(1);
  });

  it('a document only read is still checked at commit', async () => {
    const store = memoryStore();
    await store.insert('acct', { id: 'x', v: 1 });
    const e = await rejection(
      store.transaction(async (tx) => {
        await tx.get('acct', 'x');
        await store.update('acct', { id: 'x', v: 2 });
        await tx.insert('acct', { id: 'y' });
      }),
    );
    expect(e.code).toBe('CONFLICT');
    expect(await store.get('acct', 'y')).toBeUndefined();
  });

  it('sees its own writes, and an error thrown inside writes nothing', async () => {
    const store = memoryStore();
    const boom = new Error('boom');
    const e = await rejection(
      store.transaction(async (tx) => {
        await tx.insert('t', { id: 'a', n: 1 });
        expect((await tx.get('t', 'a'))?.n).toBe(1);
        expect((await tx.find('t')).map((d) => d.id)).toEqual(['a']);
        throw boom;
      }),
    );
    expect(e).toBe(boom);
    expect(await store.get('t', 'a')).toBeUndefined();
    expect(await store.lastSyncId()).toBe(0);
  });

  it('find inside a transaction protects the documents it returned, not the rest of the collection', async () => {
    const store = memoryStore();
    await store.insert('w', { id: 'hot', on: true });
    await store.insert('w', { id: 'cold', on: false });
    await store.transaction(async (tx) => {
      expect((await tx.find('w', { filter: { on: true } })).map((d) => d.id)).toEqual(['hot']);
      await store.update('w', { id: 'cold', on: false, touched: 1 }); // not returned: no conflict
      await tx.insert('log', { id: 'l1' });
    });
    expect(await store.get('log', 'l1')).toBeDefined();
    const e = await rejection(
      store.transaction(async (tx) => {
        await tx.find('w', { filter: { on: true } });
        await store.update('w', { id: 'hot', on: true, touched: 1 }); // returned: conflict
        await tx.insert('log', { id: 'l2' });
      }),
    );
    expect(e.code).toBe('CONFLICT');
    expect(await store.get('log', 'l2')).toBeUndefined();
  });

  it('withRetry makes concurrent read-modify-write transactions lose no update', async () => {
    const store = memoryStore();
    await store.insert('c', { id: 'n', value: 0 });
    await Promise.all(
      Array.from({ length: 30 }, () =>
        withRetry(
          () =>
            store.transaction(async (tx) => {
              const n = await tx.get('c', 'n');
              await new Promise((r) => setTimeout(r, Math.random() * 3));
              await tx.update('c', { id: 'n', value: (n?.value as number) + 1 });
            }),
          { retries: 200, baseDelayMs: 1, maxDelayMs: 5 },
        ),
      ),
    );
    expect((await store.get('c', 'n'))?.value).toBe(30);
  });

  it('of N concurrent writers with the same expected version exactly one wins', async () => {
    const store = memoryStore();
    await store.insert('c', { id: 'n' });
    const results = await Promise.allSettled(Array.from({ length: 25 }, (_, i) => store.update('c', { id: 'n', by: i }, { expectedVersion: 1 })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(isCseError(r.reason, 'CONFLICT')).toBe(true);
  });
});
