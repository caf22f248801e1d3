import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isCseError, openStore } from '@cse/core';
import { describe, expect, it } from 'vitest';
import { SqliteAdapter, createAdapterFromUrl, parseSqliteUrl } from '@cse/adapter-sqlite';
import { tempDir } from './helpers.js';

describe('sqlite: URLs', () => {
  it('reads paths and parameters', () => {
    expect(parseSqliteUrl('sqlite:./edge.db')).toEqual({ path: './edge.db', synchronous: undefined, busyTimeout: undefined });
    expect(parseSqliteUrl('sqlite:/var/lib/cse/edge.db?synchronous=normal&busy_timeout=250')).toEqual({
      path: '/var/lib/cse/edge.db',
      synchronous: 'NORMAL',
      busyTimeout: 250,
    });
    expect(parseSqliteUrl('sqlite:///abs/edge.db').path).toBe('/abs/edge.db');
    expect(parseSqliteUrl('sqlite:./with%20space%3F.db').path).toBe('./with space?.db');
    expect(parseSqliteUrl('sqlite::memory:').path).toBe(':memory:');
  });

  it('rejects malformed URLs with VALIDATION', () => {
    for (const url of [
      'sqlite:',
      'sqlite:?synchronous=FULL',
      'sqlite://host/edge.db',
      'sqlite:./x.db?journal_mode=DELETE',
      'sqlite:./x.db?busy_timeout=soon',
      'sqlite:./%E0%A4%A.db',
      'level:./data',
    ]) {
      let error: unknown;
      try {
        parseSqliteUrl(url);
      } catch (e) {
        error = e;
      }
      expect(isCseError(error, 'VALIDATION'), url).toBe(true);
    }
    let error: unknown;
    try {
      createAdapterFromUrl('sqlite:./x.db?synchronous=OFF');
    } catch (e) {
      error = e;
    }
    expect(isCseError(error, 'VALIDATION')).toBe(true);
  });

  it('opens a store through openStore(url)', async () => {
    const dir = tempDir();
    const path = join(dir, 'edge.db');
    const store = await openStore(`sqlite:${path}?synchronous=NORMAL`);
    await store.insert('things', { id: 'a' });
    expect(store.capabilities.persistent).toBe(true);
    await store.close();
    expect(existsSync(path)).toBe(true);
    const adapter = createAdapterFromUrl(`sqlite:${resolve(path)}`);
    expect(adapter).toBeInstanceOf(SqliteAdapter);
    expect(await adapter.sequence()).toEqual({ lastSyncId: 1, compactedThrough: 0 });
    await adapter.close();
  });
});
