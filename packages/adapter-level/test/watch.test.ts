import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '@cse/core';
import { collect } from '../../../test-support/watch.js';
import { until } from '../../../test-support/until.js';
import { LevelAdapter } from '@cse/adapter-level';
import { commitOk, put, tempDir } from './helpers.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function location(): Promise<string> {
  const { dir, cleanup } = await tempDir();
  cleanups.push(cleanup);
  return join(dir, 'db');
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

describe('LevelAdapter change feed', () => {
  it('declares changeFeed; a listener is called once per commit that wrote, after it is readable', async () => {
    const adapter = new LevelAdapter({ location: await location() });
    expect(adapter.capabilities.changeFeed).toBe(true);
    const seenAtCall: number[] = [];
    const off = adapter.subscribe(() => {
      void adapter.sequence().then((s) => seenAtCall.push(s.lastSyncId));
    });
    await commitOk(adapter, put('a', '1'));
    await commitOk(adapter, put('a', '2'), put('a', '3'));
    const failed = await adapter.commit({ now: new Date().toISOString(), writes: [put('a', '1', {}, { kind: 'absent' })] });
    expect(failed.ok).toBe(false);
    await until('the listener calls to read the counter', () => seenAtCall.length >= 2);
    expect(seenAtCall).toEqual([1, 3]);
    off();
    off();
    // Listeners are called together, in order: once one subscribed after it has heard the commit
    // (reading the counter the same way), the one removed would have too.
    let witnessed = 0;
    const witness = adapter.subscribe(() => {
      void adapter.sequence().then(() => witnessed++);
    });
    await commitOk(adapter, put('a', '4'));
    await until('the listener still subscribed to hear the commit', () => witnessed > 0);
    witness();
    expect(seenAtCall).toEqual([1, 3]);
    await adapter.close();
  });

  it('a watcher sees commits of its store and of another adapter on the same directory and namespace, once each, ascending', async () => {
    const where = await location();
    const store = openStore(new LevelAdapter({ location: where, namespace: 'n' }));
    const other = openStore(new LevelAdapter({ location: where, namespace: 'n' }));
    const elsewhere = openStore(new LevelAdapter({ location: where, namespace: 'm' }));
    let elsewhereWakes = 0;
    const offElsewhere = elsewhere.adapter.subscribe!(() => elsewhereWakes++);
    const seen = collect(store.watch(0), 20);
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < 10; i++) writes.push(store.insert('a', { id: `s${i}` }), other.insert('a', { id: `o${i}` }));
    await Promise.all(writes);
    expect(await seen).toEqual(range(20));
    expect(elsewhereWakes).toBe(0); // another namespace is another store
    offElsewhere();
    await Promise.all([store.close(), other.close(), elsewhere.close()]);
  });

  it('close ends watchers and drops the listeners; a subscription after close is a no-op', async () => {
    const where = await location();
    const adapter = new LevelAdapter({ location: where });
    const store = openStore(adapter);
    const watch = store.watch(0);
    const first = watch.next();
    await store.insert('a', { id: '1' });
    expect((await first).value?.changes.map((c) => c.id)).toEqual(['1']);
    const second = watch.next();
    let late = 0;
    adapter.subscribe(() => late++);
    await store.close();
    expect((await second).done).toBe(true);
    adapter.subscribe(() => late++)();
    // a new adapter on the directory does not reach the closed one's listeners
    const again = new LevelAdapter({ location: where });
    await commitOk(again, put('a', '2'));
    expect(late).toBe(0);
    await again.close();
  });
});
