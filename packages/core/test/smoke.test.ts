import { describe, expect, it } from 'vitest';
import { MemoryAdapter, openStore } from '@cse/core';

describe('smoke', () => {
  it('inserts and reads back', async () => {
    const store = openStore(new MemoryAdapter());
    const doc = await store.insert('things', { id: 'a', n: 1 });
    expect(doc._version).toBe(1);
    expect(doc._sync_id).toBe(1);
    expect(await store.get('things', 'a')).toMatchObject({ id: 'a', n: 1 });
  });
});
