import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MemoryAdapter, defineCapabilities, isCseError, openStore } from '@cse/core';
import type { ChangePage, StorageAdapter, Store } from '@cse/core';
import { memoryStore } from './helpers.js';

/** A MemoryAdapter seen through a counting wrapper: how many feed listeners and polls are live. */
class Counting implements StorageAdapter {
  readonly inner = new MemoryAdapter();
  readonly capabilities;
  listeners = 0;
  sequenceCalls = 0;
  constructor(feed: boolean) {
    this.capabilities = defineCapabilities({ compaction: true, changeFeed: feed });
  }
  commit: StorageAdapter['commit'] = (r) => this.inner.commit(r);
  getMany: StorageAdapter['getMany'] = (k) => this.inner.getMany(k);
  scanCollection: StorageAdapter['scanCollection'] = (c) => this.inner.scanCollection(c);
  changes: StorageAdapter['changes'] = (a, o) => this.inner.changes(a, o);
  listCollections: StorageAdapter['listCollections'] = () => this.inner.listCollections();
  sequence: StorageAdapter['sequence'] = () => {
    this.sequenceCalls++;
    return this.inner.sequence();
  };
  compact = (t: number): Promise<number> => this.inner.compact(t);
  subscribe(listener: () => void): () => void {
    this.listeners++;
    const off = this.inner.subscribe(listener);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.listeners--;
      off();
    };
  }
  close = (): Promise<void> => this.inner.close();
}

const tick = (ms = 0): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Collects pages from a watch until `n` changes arrived. */
async function collect(iter: AsyncIterable<ChangePage>, n: number): Promise<ChangePage[]> {
  const pages: ChangePage[] = [];
  let seen = 0;
  for await (const page of iter) {
    pages.push(page);
    seen += page.changes.length;
    if (seen >= n) break;
  }
  return pages;
}

describe('Store.watch', () => {
  it('yields what is there, then every new commit, once each and in ascending order', async () => {
    const store = memoryStore();
    await store.insert('a', { id: '1' });
    await store.insert('a', { id: '2' });
    const pages = collect(store.watch(0), 5);
    await tick();
    await store.insert('b', { id: 'x' });
    await store.update('a', { id: '1', v: 2 });
    await store.delete('a', '2');
    const ids = (await pages).flatMap((p) => p.changes.map((c) => c.syncId));
    expect(ids).toEqual([1, 2, 3, 4, 5]);
    await store.close();
  });

  it('property: from any cursor, concurrent writers, every change once and ascending (seeded)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 20 }),
        fc.array(fc.array(fc.constantFrom('insert', 'update', 'delete'), { minLength: 1, maxLength: 20 }), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1, max: 7 }),
        async (before, writers, limit) => {
          const store = memoryStore();
          for (let i = 0; i < before; i++) await store.insert('c', { id: `pre${i}` });
          const start = before === 0 ? 0 : before - 1;
          const got: number[] = [];
          const controller = new AbortController();
          const watching = (async () => {
            for await (const page of store.watch(start, { limit, signal: controller.signal })) {
              expect(page.changes.length).toBeLessThanOrEqual(limit);
              got.push(...page.changes.map((c) => c.syncId));
            }
          })();
          await Promise.all(
            writers.map(async (ops, w) => {
              for (const [i, op] of ops.entries()) {
                const id = `w${w}-${i % 3}`;
                const doc = await store.get('c', id);
                if (op === 'delete' && doc) await store.delete('c', id);
                else if (doc) await store.update('c', { id, i });
                else await store.insert('c', { id, i });
                if (i % 2 === 0) await tick();
              }
            }),
          );
          const last = await store.lastSyncId();
          while ((got.at(-1) ?? start) < last) await tick(1);
          controller.abort();
          await watching;
          // Every id after the cursor whose document still has that id as its current state.
          const expected = (await store.changesSince(start, { limit: 10_000 })).changes.map((c) => c.syncId);
          const latest = new Set(expected);
          expect(got.filter((id) => latest.has(id))).toEqual(expected);
          for (let i = 1; i < got.length; i++) expect(got[i] as number).toBeGreaterThan(got[i - 1] as number);
          await store.close();
        },
      ),
      { numRuns: 40 },
    );
  });

  it('a slow consumer gets fuller pages, not a buffer of every notification', async () => {
    const store = memoryStore();
    const iter = store.watch(0, { limit: 1000 });
    const first = iter.next();
    await store.insert('a', { id: 'first' });
    expect((await first).value?.changes.map((c) => c.id)).toEqual(['first']);
    for (let i = 0; i < 50; i++) await store.insert('a', { id: `n${i}` });
    const second = await iter.next();
    expect(second.value?.changes).toHaveLength(50);
    await iter.return();
    await store.close();
  });

  it('ends on abort, on break and on close, and releases its feed listener each time', async () => {
    const adapter = new Counting(true);
    const store = openStore(adapter);
    const controller = new AbortController();
    const aborted = collect(store.watch(0, { signal: controller.signal }), 100);
    await tick();
    expect(adapter.listeners).toBe(1);
    controller.abort();
    expect(await aborted).toEqual([]);
    expect(adapter.listeners).toBe(0);

    await store.insert('a', { id: '1' });
    await collect(store.watch(0), 1); // break after the first page
    expect(adapter.listeners).toBe(0);

    const closing = collect(store.watch(1), 100);
    await tick();
    expect(adapter.listeners).toBe(1);
    await store.close();
    expect(await closing).toEqual([]);
    expect(adapter.listeners).toBe(0);
  });

  it('an already aborted signal ends at once without reading', async () => {
    const store = memoryStore();
    await store.insert('a', { id: '1' });
    expect(await collect(store.watch(0, { signal: AbortSignal.abort() }), 1)).toEqual([]);
  });

  it('without a change feed it polls sequence() only while watching, and sees commits of another Store', async () => {
    const adapter = new Counting(false);
    const reader = openStore(adapter, { pollIntervalMs: 5 });
    const writer = openStore(adapter); // another Store: its commits do not wake the reader's feed directly
    const pages = collect(reader.watch(0), 2);
    await tick(20);
    await writer.insert('a', { id: '1' });
    await tick(20);
    await writer.insert('a', { id: '2' });
    expect((await pages).flatMap((p) => p.changes.map((c) => c.id))).toEqual(['1', '2']);
    const calls = adapter.sequenceCalls;
    await tick(40);
    expect(adapter.sequenceCalls).toBe(calls); // the poll stopped with the watcher
    expect(adapter.listeners).toBe(0);
  });

  it('RESET_REQUIRED surfaces from the iterator as from changesSince', async () => {
    const store = memoryStore();
    await store.insert('a', { id: '1' });
    await store.delete('a', '1');
    await store.insert('a', { id: '2' });
    await store.compact(2);
    const e = await collect(store.watch(1), 1).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(isCseError(e, 'RESET_REQUIRED')).toBe(true);
    const ahead = await collect(store.watch(99), 1).catch((err: unknown) => err);
    expect(isCseError(ahead, 'RESET_REQUIRED')).toBe(true);
  });

  it('bad arguments are VALIDATION errors at once, before any read', () => {
    const store = memoryStore();
    for (const bad of [-1, 1.5, Number.NaN, '3' as unknown as number]) {
      expect(() => store.watch(bad)).toThrow(expect.objectContaining({ code: 'VALIDATION' }) as Error);
    }
    expect(() => store.watch(0, { limit: 0 })).toThrow(expect.objectContaining({ code: 'VALIDATION' }) as Error);
    expect(() => store.watch(0, { collections: ['bad name'] })).toThrow(expect.objectContaining({ code: 'VALIDATION' }) as Error);
    expect(() => store.watch(0, { signal: {} as AbortSignal })).toThrow(expect.objectContaining({ code: 'VALIDATION' }) as Error);
    expect(() => openStore(new MemoryAdapter(), { pollIntervalMs: 0 })).toThrow(expect.objectContaining({ code: 'VALIDATION' }) as Error);
  });

  it('hides system collections unless asked, like changesSince', async () => {
    const store: Store = memoryStore();
    const pages = collect(store.watch(0, { collections: ['b'] }), 1);
    await store.insert('a', { id: '1' });
    await store.insert('b', { id: '2' });
    expect((await pages)[0]?.changes.map((c) => c.collection)).toEqual(['b']);
  });
});

describe('Store.onChanges', () => {
  it('calls the listener page by page, awaits it, and keeps the cursor', async () => {
    const store = memoryStore();
    const seen: string[] = [];
    const sub = store.onChanges(0, async (page) => {
      await tick(1);
      seen.push(...page.changes.map((c) => c.id));
    });
    await store.insert('a', { id: '1' });
    await store.insert('a', { id: '2' });
    while (seen.length < 2) await tick(1);
    expect(seen).toEqual(['1', '2']);
    expect(sub.cursor).toBe(2);
    await sub.stop();
    await expect(sub.done).resolves.toBeUndefined();
    await store.close();
  });

  it('a listener that throws ends the subscription: onError and done see the error', async () => {
    const store = memoryStore();
    const errors: unknown[] = [];
    const sub = store.onChanges(
      0,
      () => {
        throw new Error('boom');
      },
      { onError: (e) => errors.push(e) },
    );
    await store.insert('a', { id: '1' });
    await expect(sub.done).rejects.toThrow('boom');
    expect(errors).toHaveLength(1);
    await store.close();
  });
});
