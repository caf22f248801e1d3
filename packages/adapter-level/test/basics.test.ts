import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { MemoryLevel } from 'memory-level';
import { ClassicLevel } from 'classic-level';
import { isCseError, openStore } from '@cse/core';
import { LevelAdapter, createAdapterFromUrl } from '@cse/adapter-level';
import { commitOk, del, put, tempDir } from './helpers.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function dir(): Promise<string> {
  const t = await tempDir();
  cleanups.push(t.cleanup);
  return t.dir;
}

describe('LevelAdapter on classic-level', () => {
  it('keeps documents, tombstones, the counter and the watermark across close and reopen', async () => {
    const location = join(await dir(), 'db');
    const a = new LevelAdapter({ location });
    await commitOk(a, put('users', 'u1', { n: 1 }), put('users', 'u2', { n: 2 }));
    await commitOk(a, del('users', 'u2'), put('orders', 'o1', { total: 3 }));
    expect(await a.compact(0)).toBe(0);
    await a.close();

    const b = new LevelAdapter({ location });
    expect(await b.sequence()).toEqual({ lastSyncId: 4, compactedThrough: 0 });
    const [u1, u2] = await b.getMany([{ collection: 'users', id: 'u1' }, { collection: 'users', id: 'u2' }]);
    expect(u1).toMatchObject({ syncId: 1, version: 1, deleted: false, doc: { id: 'u1', n: 1, _sync_id: 1 } });
    expect(u2).toMatchObject({ syncId: 3, version: 2, deleted: true });
    expect(await b.listCollections()).toEqual(['orders', 'users']);
    const next = await commitOk(b, put('users', 'u3'));
    expect(next.records[0]?.syncId).toBe(5);
    expect((await b.changes(0, { limit: 10 })).map((r) => [r.id, r.syncId])).toEqual([
      ['u1', 1],
      ['u2', 3],
      ['o1', 4],
      ['u3', 5],
    ]);
    expect(await b.compact(4)).toBe(1);
    await b.close();

    const c = new LevelAdapter({ location });
    expect(await c.sequence()).toEqual({ lastSyncId: 5, compactedThrough: 4 });
    expect((await c.scanCollection('users')).map((r) => r.id).sort()).toEqual(['u1', 'u3']);
    await c.close();
  });

  it('compacts only tombstones at or below the watermark, and never lowers it', async () => {
    const a = new LevelAdapter({ location: join(await dir(), 'db') });
    await commitOk(a, put('c', 'gone'), put('c', 'back'), put('c', 'late'), put('c', 'live'));
    await commitOk(a, del('c', 'gone'), del('c', 'back')); // 5, 6
    await commitOk(a, put('c', 'back', { again: true })); // 7: a live document again
    await commitOk(a, del('c', 'late')); // 8
    expect(await a.compact(7)).toBe(1);
    expect(await a.sequence()).toEqual({ lastSyncId: 8, compactedThrough: 7 });
    const [gone, back, late] = await a.getMany(['gone', 'back', 'late'].map((id) => ({ collection: 'c', id })));
    expect(gone).toBeUndefined();
    expect(back).toMatchObject({ version: 3, deleted: false });
    expect(late).toMatchObject({ syncId: 8, deleted: true });
    expect((await a.changes(0, { limit: 10 })).map((r) => r.id)).toEqual(['live', 'back', 'late']);
    expect(await a.compact(3)).toBe(0);
    expect((await a.sequence()).compactedThrough).toBe(7);
    expect(await a.compact(100)).toBe(1);
    expect(await a.sequence()).toEqual({ lastSyncId: 8, compactedThrough: 100 });
    await a.close();
  });

  it('returns failures and writes nothing when a precondition fails', async () => {
    const a = new LevelAdapter({ location: join(await dir(), 'db') });
    await commitOk(a, put('c', 'x', { v: 1 }));
    const result = await a.commit({
      writes: [put('c', 'y', {}), put('c', 'x', { v: 2 }, { kind: 'version', version: 7 })],
      now: 'later',
    });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.failures).toEqual([{ index: 1, current: expect.objectContaining({ id: 'x', version: 1 }) }]);
    expect(await a.getMany([{ collection: 'c', id: 'y' }])).toEqual([undefined]);
    expect(await a.sequence()).toEqual({ lastSyncId: 1, compactedThrough: 0 });
    await a.close();
  });

  it('hands out fresh records', async () => {
    const a = new LevelAdapter({ location: join(await dir(), 'db') });
    const body = { nested: { list: [1, 2] } };
    const { records } = await commitOk(a, put('c', 'x', body));
    (records[0]!.doc['nested'] as { list: number[] }).list.push(3);
    body.nested.list.push(4);
    const [again] = await a.getMany([{ collection: 'c', id: 'x' }]);
    expect(again?.doc['nested']).toEqual({ list: [1, 2] });
    await a.close();
  });

  it('rejects bad input with VALIDATION before writing', async () => {
    const a = new LevelAdapter({ location: join(await dir(), 'db') });
    const bad = [
      () => a.commit({ writes: [put('a!b', 'x')], now: 'n' }),
      () => a.commit({ writes: [put('ok', 'x'), put('c', '')], now: 'n' }),
      () => a.commit({ writes: [put('c', 'lone \ud800')], now: 'n' }),
      () => a.getMany([{ collection: 'd"', id: 'x' }]),
      () => a.scanCollection('users!'),
      () => a.compact(-1),
    ];
    for (const call of bad) await expect(call()).rejects.toSatisfy((e) => isCseError(e, 'VALIDATION'));
    expect(await a.sequence()).toEqual({ lastSyncId: 0, compactedThrough: 0 });
    expect(await a.listCollections()).toEqual([]);
    await a.close();
  });

  it('rejects bad options with VALIDATION', () => {
    const db = new MemoryLevel();
    for (const options of [{}, { location: '' }, { location: 'x', db }, { db, namespace: 'a!b' }, { db, namespace: '' }, { db, sync: 1 }]) {
      expect(() => new LevelAdapter(options as never)).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
    }
  });

  it('closes the database it opened, but never one it was given', async () => {
    const location = join(await dir(), 'db');
    const own = new LevelAdapter({ location });
    await own.ready();
    await own.close();
    await own.close();
    await expect(own.sequence()).rejects.toSatisfy((e) => isCseError(e, 'CLOSED'));
    // The directory lock is free again, so the database really was closed.
    const db = new ClassicLevel(location);
    const given = new LevelAdapter({ db });
    await commitOk(given, put('c', 'x'));
    await given.close();
    expect(db.status).toBe('open');
    await expect(given.commit({ writes: [put('c', 'y')], now: 'n' })).rejects.toSatisfy((e) => isCseError(e, 'CLOSED'));
    await db.close();
  });

  it('waits for a running commit before closing', async () => {
    const a = new LevelAdapter({ location: join(await dir(), 'db') });
    const writing = commitOk(a, put('c', 'x'));
    const closing = a.close();
    await expect(writing).resolves.toMatchObject({ ok: true });
    await closing;
  });

  it('reports a database that cannot open as BACKEND, from ready() and from every call', async () => {
    const file = join(await dir(), 'not-a-dir');
    await (await import('node:fs/promises')).writeFile(file, 'x');
    const a = new LevelAdapter({ location: file });
    await expect(a.ready()).rejects.toSatisfy((e) => isCseError(e, 'BACKEND'));
    await expect(a.sequence()).rejects.toSatisfy((e) => isCseError(e, 'BACKEND'));
    await a.close();
  });
});

describe('createAdapterFromUrl', () => {
  it('opens level: URLs, through openStore too', async () => {
    const root = await dir();
    const a = await createAdapterFromUrl(`level:${root}/a?namespace=plant-a&sync=false`);
    await commitOk(a, put('c', 'x'));
    await a.close();
    const b = await createAdapterFromUrl(`level:${root}/a`);
    expect(await b.listCollections()).toEqual([]);
    await b.close();
    const store = await openStore(`level:${root}/a?namespace=plant-a`);
    expect(await store.get('c', 'x')).toMatchObject({ id: 'x', _version: 1 });
    await store.close();
  });

  it('rejects malformed URLs with VALIDATION', async () => {
    for (const url of ['level:', 'sqlite:./x', 'level:./x?colour=red', 'level:./x?sync=maybe', 'level:./x?namespace=a!b']) {
      await expect(createAdapterFromUrl(url)).rejects.toSatisfy((e) => isCseError(e, 'VALIDATION'));
    }
  });
});
