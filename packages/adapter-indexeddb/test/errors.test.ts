import { afterEach, describe, expect, it } from 'vitest';
import { isCseError, openStore, registerAdapterModule } from '@cse/core';
import * as idbModule from '@cse/adapter-indexeddb';
import { IndexedDbAdapter, SCHEMA_VERSION, createAdapterFromUrl, optionsFromUrl, toIndexedDbError } from '@cse/adapter-indexeddb';
import { freshName, idbFactory, inBrowser, openAdapter, rawOpen, rejection } from './env.js';

const now = '2026-01-01T00:00:00.000Z';
const putX = { writes: [{ collection: 'c', id: 'x', kind: 'put' as const, body: { id: 'x' } }], now };

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0)) await f();
});

describe('errors at the boundary', () => {
  it('runs on the IndexedDB this project claims', () => {
    const factory = idbFactory();
    if (inBrowser) {
      expect(navigator.userAgent).toMatch(/Chrome/);
      expect(Function.prototype.toString.call(factory.open)).toContain('[native code]');
    } else {
      expect(Function.prototype.toString.call(factory.open)).not.toContain('[native code]');
    }
  });

  it('maps a VersionError (database newer than this code) to BACKEND with the cause', async () => {
    const name = freshName('newer');
    (await rawOpen(name, 5)).close();
    const adapter = new IndexedDbAdapter({ name });
    cleanup.push(() => adapter.close());
    const err = await rejection(adapter.ready());
    expect(isCseError(err, 'BACKEND')).toBe(true);
    expect((err.cause as DOMException).name).toBe('VersionError');
    expect(err.message).toContain('VersionError');
    const again = await rejection(adapter.commit(putX));
    expect(isCseError(again, 'BACKEND')).toBe(true);
  });

  it('refuses a database that is not a CSE store', async () => {
    const name = freshName('alien');
    (await rawOpen(name, 1, (db) => db.createObjectStore('other'))).close();
    const err = await rejection(new IndexedDbAdapter({ name }).ready());
    expect(isCseError(err, 'BACKEND')).toBe(true);
    expect(err.message).toContain('not a CSE store');
  });

  it('maps a closed connection (InvalidStateError) to CLOSED with the cause', async () => {
    const db = await rawOpen(freshName('raw'), 1, (d) => d.createObjectStore('s'));
    db.close();
    let thrown: unknown;
    try {
      db.transaction('s', 'readonly');
    } catch (e) {
      thrown = e;
    }
    expect((thrown as DOMException).name).toBe('InvalidStateError');
    const mapped = toIndexedDbError(thrown, 'reading');
    expect(isCseError(mapped, 'CLOSED')).toBe(true);
    expect(mapped.cause).toBe(thrown);
  });

  it('throws CLOSED after close, and close is idempotent', async () => {
    const adapter = await openAdapter(freshName());
    await adapter.close();
    await adapter.close();
    for (const call of [adapter.commit(putX), adapter.getMany([]), adapter.changes(0, { limit: 1 }), adapter.sequence(), adapter.listCollections(), adapter.scanCollection('c'), adapter.compact(1)]) {
      expect(isCseError(await rejection(call), 'CLOSED')).toBe(true);
    }
  });

  it('steps aside when another tab upgrades the database, which then proceeds', async () => {
    const name = freshName('upgrade');
    const older = await openAdapter(name);
    await older.commit(putX);
    const newer = await rawOpen(name, SCHEMA_VERSION + 1, (db) => db.createObjectStore('added-in-a-later-version'));
    cleanup.push(() => newer.close());
    expect(newer.version).toBe(SCHEMA_VERSION + 1);
    const err = await rejection(older.commit(putX));
    expect(isCseError(err, 'CLOSED')).toBe(true);
    expect(err.message).toMatch(/another tab or connection upgraded/);
    // The data survived the upgrade.
    const read = await new Promise<unknown>((resolve, reject) => {
      const request = newer.transaction('docs', 'readonly').objectStore('docs').get(['c', 'x']);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error ?? new Error('read failed'));
    });
    expect(read).toMatchObject({ id: 'x', syncId: 1 });
    await older.close();
  });

  it('steps aside when another tab deletes the database', async () => {
    const name = freshName('deleted');
    const adapter = await openAdapter(name);
    await new Promise<void>((resolve, reject) => {
      const request = idbFactory().deleteDatabase(name);
      request.onsuccess = () => resolve();
      request.onerror = () => reject(request.error ?? new Error('delete failed'));
    });
    const err = await rejection(adapter.sequence());
    expect(isCseError(err, 'CLOSED')).toBe(true);
    expect(err.message).toMatch(/deleted/);
  });

  it('maps a failing write to BACKEND and writes nothing of that commit', async () => {
    const name = freshName('constraint');
    const adapter = await openAdapter(name);
    cleanup.push(() => adapter.close());
    await adapter.commit(putX);
    // Another party rewinds the counter, so the next id collides with the unique syncId index.
    const raw = await rawOpen(name);
    await new Promise<void>((resolve, reject) => {
      const tx = raw.transaction('meta', 'readwrite');
      tx.objectStore('meta').put({ lastSyncId: 0, compactedThrough: 0 }, 'sequence');
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error ?? new Error('rewind failed'));
    });
    raw.close();
    const err = await rejection(
      adapter.commit({
        writes: [
          { collection: 'c', id: 'y', kind: 'put', body: { id: 'y' } },
          { collection: 'c', id: 'z', kind: 'put', body: { id: 'z' } },
        ],
        now,
      }),
    );
    expect(isCseError(err, 'BACKEND')).toBe(true);
    expect((err.cause as DOMException).name).toMatch(/ConstraintError|AbortError/);
    expect(await adapter.getMany([{ collection: 'c', id: 'y' }, { collection: 'c', id: 'z' }])).toEqual([undefined, undefined]);
    expect((await adapter.sequence()).lastSyncId).toBe(0);
  });

  it('rejects bad options and URLs with VALIDATION before opening anything', () => {
    for (const bad of [{ name: '' }, { name: 3 }, { name: 'x', durability: 'fast' }, null]) {
      let thrown: unknown;
      try {
        new IndexedDbAdapter(bad as never);
      } catch (e) {
        thrown = e;
      }
      expect(isCseError(thrown, 'VALIDATION')).toBe(true);
    }
    expect(optionsFromUrl('indexeddb:cse')).toEqual({ name: 'cse' });
    expect(optionsFromUrl('indexeddb://plant%20a?durability=strict')).toEqual({ name: 'plant a', durability: 'strict' });
    for (const url of ['indexeddb:', 'indexeddb:x?size=3', 'sqlite:x', 'indexeddb:%E0%A4%A']) {
      let thrown: unknown;
      try {
        optionsFromUrl(url);
      } catch (e) {
        thrown = e;
      }
      expect(isCseError(thrown, 'VALIDATION')).toBe(true);
    }
  });

  it('opens an indexeddb: URL with createAdapterFromUrl', async () => {
    const name = freshName('url');
    const adapter = await createAdapterFromUrl(`indexeddb:${encodeURIComponent(name)}`);
    cleanup.push(() => adapter.close());
    expect(adapter.name).toBe(name);
    const store = openStore(adapter);
    await store.insert('c', { id: 'a' });
    expect(await store.lastSyncId()).toBe(1);
  });

  it('opens through openStore with an indexeddb: URL once the module is registered (works in browsers too)', async () => {
    registerAdapterModule('indexeddb:', idbModule);
    const name = freshName('url');
    const store = await openStore(`indexeddb:${encodeURIComponent(name)}`);
    cleanup.push(() => store.close());
    await store.insert('c', { id: 'a' });
    expect(await store.lastSyncId()).toBe(1);
  });
});
