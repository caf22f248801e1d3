import { describe, expect, it } from 'vitest';
import { expectTypeOf } from 'vitest';
import type { Transaction } from '@cse/core';
import { memoryStore, rejection } from './helpers.js';

describe('transaction operations that fail are never dropped', () => {
  it('types tx.insert as a Promise', () => {
    expectTypeOf<ReturnType<Transaction['insert']>>().toEqualTypeOf<Promise<void>>();
  });

  it('an un-awaited invalid insert fails the transaction and nothing is written', async () => {
    const store = memoryStore();
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown): void => void unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const before = await store.lastSyncId();
      const e = await rejection(
        store.transaction(async (tx) => {
          await tx.insert('c', { id: 'good', n: 1 });
          // eslint-disable-next-line @typescript-eslint/no-floating-promises -- the point of the test
          tx.insert('c', { id: 'bad', _secret: 1 });
          await tx.upsert('c', { id: 'other', n: 2 });
          return 'done';
        }),
      );
      expect(e.code).toBe('VALIDATION');
      expect(await store.get('c', 'good')).toBeUndefined();
      expect(await store.get('c', 'other')).toBeUndefined();
      expect(await store.lastSyncId()).toBe(before);
      await new Promise((r) => setTimeout(r, 10));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('an awaited operation whose error fn caught still fails the transaction', async () => {
    const store = memoryStore();
    const e = await rejection(
      store.transaction(async (tx) => {
        await tx.insert('c', { id: 'a' });
        await tx.update('c', { id: 'missing' }).catch(() => undefined);
      }),
    );
    expect(e.code).toBe('NOT_FOUND');
    expect(await store.get('c', 'a')).toBeUndefined();
  });

  it('waits for un-awaited operations before committing, and commits them', async () => {
    const store = memoryStore();
    await store.insert('c', { id: 'seed', n: 1 });
    await store.transaction(async (tx) => {
      // Neither is awaited: the commit must still contain both.
      void tx.get('c', 'seed').then((d) => tx.upsert('c', { id: 'copy', n: d?.n ?? 0 }));
      void tx.insert('c', { id: 'b', n: 2 });
    });
    expect((await store.get('c', 'copy'))?.n).toBe(1);
    expect((await store.get('c', 'b'))?.n).toBe(2);
  });

  it('when fn throws, its own error passes through', async () => {
    const store = memoryStore();
    const e = await rejection(
      store.transaction(async (tx) => {
        void tx.insert('c', { id: 'bad', _x: 1 });
        throw new Error('boom');
      }),
    );
    expect(e.message).toBe('boom');
    expect(await store.lastSyncId()).toBe(0);
  });
});
