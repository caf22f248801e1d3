import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '@cse/core';
import type { CommitRequest, Store } from '@cse/core';
import type { IndexedDbAdapter } from '@cse/adapter-indexeddb';
import { freshName, openAdapter } from './env.js';
import { until } from '../../../test-support/until.js';

const now = '2026-01-01T00:00:00.000Z';
const insert = (id: string): CommitRequest => ({ writes: [{ collection: 'c', id, kind: 'put', body: { id } }], now });

const open: { close(): Promise<void> }[] = [];
async function connection(name: string): Promise<IndexedDbAdapter> {
  const a = await openAdapter(name);
  open.push(a);
  return a;
}
function store(adapter: IndexedDbAdapter): Store {
  // A poll this slow never fires within a test: whatever arrives, arrived through the feed.
  const s = openStore(adapter, { pollIntervalMs: 60_000 });
  open.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((x) => x.close()));
});

/** Counts the listener's calls. */
function counter(adapter: IndexedDbAdapter): { calls: number; stop: () => void } {
  const c = { calls: 0, stop: () => undefined as void };
  c.stop = adapter.subscribe(() => {
    c.calls++;
  });
  return c;
}

/** Collects the ids a watcher receives. */
function follow(s: Store): { ids: string[]; stop: () => Promise<void> } {
  const ids: string[] = [];
  const sub = s.onChanges(0, (page) => {
    for (const c of page.changes) ids.push(c.id);
  });
  return { ids, stop: () => sub.stop() };
}

describe('IndexedDbAdapter change feed', () => {
  it('declares changeFeed and signals its own commits when they complete', async () => {
    const a = await connection(freshName('feed'));
    expect(a.capabilities.changeFeed).toBe(true);
    const c = counter(a);
    await a.commit(insert('x'));
    expect(c.calls).toBeGreaterThanOrEqual(1);
    const before = c.calls;
    const failed = await a.commit({ writes: [{ collection: 'c', id: 'x', kind: 'put', body: { id: 'x' }, expect: { kind: 'absent' } }], now });
    expect(failed.ok).toBe(false);
    c.stop();
    c.stop(); // idempotent
    await a.commit(insert('y'));
    expect(c.calls).toBe(before);
  });

  it('a watcher sees commits of another connection (another tab) through the BroadcastChannel', async () => {
    const name = freshName('tabs');
    const [a, b] = [await connection(name), await connection(name)];
    const watcher = follow(store(a));
    await b.commit(insert('from-b-1'));
    await until('the first commit of the other connection', () => watcher.ids.length === 1);
    await b.commit(insert('from-b-2'));
    await b.commit(insert('from-b-3'));
    await until('the later commits of the other connection', () => watcher.ids.length === 3);
    expect(watcher.ids).toEqual(['from-b-1', 'from-b-2', 'from-b-3']);
    await watcher.stop();
  });

  it('without BroadcastChannel it polls the counter while someone listens', async () => {
    const name = freshName('nochannel');
    const [a, b] = [await connection(name), await connection(name)];
    const saved = Object.getOwnPropertyDescriptor(globalThis, 'BroadcastChannel');
    Object.defineProperty(globalThis, 'BroadcastChannel', { value: undefined, configurable: true, writable: true });
    try {
      const c = counter(a);
      const watcher = follow(store(a));
      await b.commit(insert('polled'));
      await until('the poll to see the other connection’s commit', () => watcher.ids.length === 1);
      expect(watcher.ids).toEqual(['polled']);
      await watcher.stop();
      c.stop();
      const calls = c.calls;
      // A connection still listening polls too: once its poll has seen the commit, the stopped
      // listener's would have (it is warmed up first, so its counter is read before the commit).
      const witness = counter(await connection(name));
      await b.commit(insert('warm-up'));
      await until('the witness to poll', () => witness.calls > 0);
      const heard = witness.calls;
      await b.commit(insert('unheard'));
      await until('the witness to poll the commit', () => witness.calls > heard);
      expect(c.calls).toBe(calls);
    } finally {
      if (saved) Object.defineProperty(globalThis, 'BroadcastChannel', saved);
    }
  });

  it('after unsubscribe or close, other connections’ commits reach no listener', async () => {
    const name = freshName('quiet');
    const [a, b] = [await connection(name), await connection(name)];
    const c = counter(a);
    await b.commit(insert('heard'));
    await until('the first signal', () => c.calls > 0);
    await a.close();
    const calls = c.calls;
    // A third connection still listening: once its listener heard the commit, the channel's
    // message had reached every connection, the closed one too.
    const witness = counter(await connection(name));
    await b.commit(insert('after-close'));
    await until('the commit heard by the connection still open', () => witness.calls > 0);
    expect(c.calls).toBe(calls);
    expect(a.subscribe(() => undefined)).toBeTypeOf('function'); // closed: a no-op subscription
  });
});
