import { afterEach, describe, expect, it, vi } from 'vitest';
import { openStore } from '@cse/core';
import { collect } from '../../../test-support/watch.js';
import { SqliteAdapter } from '@cse/adapter-sqlite';
import { childScript, rejection, runChild, tempDb } from './helpers.js';

/** An interval no one else in this process uses: the adapter's check timer is told apart by it. */
const CHECK_MS = 4321;

/**
 * The adapter's live check timers: intervals of `CHECK_MS` started and not yet cleared. Counted
 * from the calls themselves, not from the process's active handles, so Vitest's own timers (its
 * RPC timeouts come and go with the load) never enter the count.
 */
function checkTimers(): () => number {
  const set = vi.spyOn(globalThis, 'setInterval');
  const clear = vi.spyOn(globalThis, 'clearInterval');
  return () => {
    const cleared = new Set(clear.mock.calls.map(([handle]) => handle));
    return set.mock.calls.filter(([, ms], i) => ms === CHECK_MS && !cleared.has(set.mock.results[i]?.value as NodeJS.Timeout)).length;
  };
}

afterEach(() => {
  vi.restoreAllMocks();
});

function expectEveryIdOnce(ids: readonly number[], last: number): void {
  expect(ids).toEqual(Array.from({ length: last }, (_, i) => i + 1));
}

describe('SqliteAdapter change feed', () => {
  it('declares changeFeed and validates watchIntervalMs', async () => {
    const adapter = new SqliteAdapter({ path: tempDb() });
    expect(adapter.capabilities.changeFeed).toBe(true);
    await adapter.close();
    for (const bad of [0, -1, 1.5, 60_001, Number.NaN]) {
      expect(() => new SqliteAdapter({ path: ':memory:', watchIntervalMs: bad })).toThrow(/watchIntervalMs/);
    }
  });

  it('wakes a watcher at once for its own commits, and for another connection in this process', async () => {
    const path = tempDb();
    const store = openStore(new SqliteAdapter({ path }));
    const other = openStore(new SqliteAdapter({ path, watchIntervalMs: 60_000 }));
    const seen = collect(store.watch(0), 6);
    for (let i = 0; i < 3; i++) await store.insert('a', { id: `own-${i}` });
    for (let i = 0; i < 3; i++) await other.insert('a', { id: `other-${i}` });
    expectEveryIdOnce(await seen, 6);
    await other.close();
    await store.close();
  });

  it('a grouped commit notifies its listeners once its group committed, before the commit resolves', async () => {
    const adapter = new SqliteAdapter({ path: tempDb(), watchIntervalMs: 60_000 });
    const seen: number[] = [];
    const off = adapter.subscribe(() => seen.push(0));
    const a = adapter.commit({ now: new Date().toISOString(), writes: [{ collection: 'a', id: 'x', kind: 'put', body: {} }] });
    const b = adapter.commit({ now: new Date().toISOString(), writes: [{ collection: 'a', id: 'y', kind: 'put', body: {} }] });
    await a;
    expect(seen).toEqual([0]); // one notification for the group, already given
    await b;
    expect(seen).toEqual([0]);
    expect((await adapter.sequence()).lastSyncId).toBe(2);
    off();
    await adapter.close();
  });

  it('an adapter commit without group commit notifies its listeners synchronously, after the transaction committed', async () => {
    const adapter = new SqliteAdapter({ path: tempDb(), watchIntervalMs: 60_000, groupCommit: false });
    let calls = 0;
    const off = adapter.subscribe(() => calls++);
    const pending = adapter.commit({ now: new Date().toISOString(), writes: [{ collection: 'a', id: 'x', kind: 'put', body: {} }] });
    expect(calls).toBe(1); // better-sqlite3 is synchronous: the commit and the call already happened
    await pending;
    off();
    off(); // idempotent
    await adapter.commit({ now: new Date().toISOString(), writes: [{ collection: 'a', id: 'y', kind: 'put', body: {} }] });
    expect(calls).toBe(1);
    await adapter.close();
  });

  it('sees the commits of another process on the same file, each once and in ascending order', async () => {
    const path = tempDb();
    const store = openStore(new SqliteAdapter({ path }));
    await store.insert('items', { id: 'first' });
    const seen = collect(store.watch(0), 1 + 2 * 15);
    // Two children interleave their commits; the parent never commits while they run.
    await Promise.all([
      runChild(childScript('slow-writer.ts'), [path, 'p', '15', '3']),
      runChild(childScript('slow-writer.ts'), [path, 'q', '15', '2']),
    ]);
    const ids = await seen;
    const { lastSyncId } = await store.adapter.sequence();
    expect(lastSyncId).toBe(31);
    expectEveryIdOnce(ids, lastSyncId);
    await store.close();
  });

  it('runs its timer only while someone listens, and close ends watchers and releases it', async () => {
    const path = tempDb();
    const timers = checkTimers();
    const store = openStore(new SqliteAdapter({ path, watchIntervalMs: CHECK_MS }));
    expect(timers()).toBe(0);
    const controller = new AbortController();
    const [seenFirst, seenSecond]: number[][] = [[], []];
    const first = collect(store.watch(0, { signal: controller.signal }), 1_000, seenFirst);
    const second = collect(store.watch(0), 1_000, seenSecond);
    await store.insert('a', { id: '1' });
    await vi.waitFor(() => expect([seenFirst, seenSecond]).toEqual([[1], [1]]), { timeout: 30_000 });
    expect(timers()).toBe(1); // one check timer, shared by both watchers
    controller.abort();
    expect(await first).toEqual([1]);
    expect(timers()).toBe(1); // the second watcher still listens
    await store.close();
    expect(await second).toEqual([1]);
    expect(timers()).toBe(0);
    // a subscription after close is a no-op, not a new timer
    const off = store.adapter.subscribe!(() => undefined);
    off();
    expect(timers()).toBe(0);
    expect((await rejection(store.adapter.sequence())).code).toBe('CLOSED');
  });

  it('the last unsubscribe stops the check timer', async () => {
    const timers = checkTimers();
    const adapter = new SqliteAdapter({ path: tempDb(), watchIntervalMs: CHECK_MS });
    const offA = adapter.subscribe(() => undefined);
    const offB = adapter.subscribe(() => undefined);
    expect(timers()).toBe(1);
    offA();
    expect(timers()).toBe(1);
    offB();
    expect(timers()).toBe(0);
    await adapter.close();
  });
});

