import { describe, expect, it } from 'vitest';
import { MemoryAdapter, openStore, registerAdapterModule } from '@cse/core';
import { rejection } from './helpers.js';

describe('openStore', () => {
  it('wraps an adapter synchronously and opens memory: URLs', async () => {
    const store = openStore(new MemoryAdapter());
    await store.insert('t', { id: 'a' });
    const mem = await openStore('memory:');
    expect(await mem.get('t', 'a')).toBeUndefined();
  });

  it('rejects unknown schemes and non-URLs with VALIDATION naming what works', async () => {
    const e = await rejection(openStore('postgres://x'));
    expect(e.code).toBe('VALIDATION');
    expect(e.message).toMatch(/sqlite:/);
    expect((await rejection(openStore('no scheme here'))).code).toBe('VALIDATION');
    expect(() => openStore({} as never)).toThrow(/StorageAdapter/);
  });

  it('uses a registered adapter module (how browsers and bundles open URLs)', async () => {
    const seen: string[] = [];
    registerAdapterModule('test-mem:', {
      createAdapterFromUrl(url) {
        seen.push(url);
        return new MemoryAdapter();
      },
    });
    const store = await openStore('test-mem:anything');
    await store.insert('t', { id: 'a' });
    expect(seen).toEqual(['test-mem:anything']);
    expect(() => registerAdapterModule('bad', {} as never)).toThrow(/scheme/);
    expect(() => registerAdapterModule('ok:', {} as never)).toThrow(/createAdapterFromUrl/);
  });
});
