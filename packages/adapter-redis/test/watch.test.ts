import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '@cse/core';
import { collect } from '../../../test-support/watch.js';
import { until } from '../../../test-support/until.js';
import { RedisAdapter } from '@cse/adapter-redis';
import { startRedis } from './redis-servers.js';
import { adapterOn, freshNamespace, targets } from './targets.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe.each(targets)('RedisAdapter change feed on $name', (target) => {
  it('a watcher sees its own commits and another client’s, once each and ascending', async () => {
    const ns = freshNamespace('watch');
    const mine = adapterOn(target, ns);
    const theirs = adapterOn(target, ns);
    expect(mine.capabilities.changeFeed).toBe(true);
    const store = openStore(mine);
    const other = openStore(theirs);
    cleanups.push(() => store.close(), () => other.close());
    const seen = collect(store.watch(0), 20);
    // The other client commits only after our subscription is live; the first commits are ours.
    await until('the subscriber', () => mine.subscriber?.status === 'ready');
    for (let i = 0; i < 10; i++) await Promise.all([store.insert('a', { id: `m${i}` }), other.insert('a', { id: `o${i}` })]);
    expect(await seen).toEqual(range(20));
  });

  it('a watcher woken only by the channel: another client’s commits reach it', async () => {
    const ns = freshNamespace('channel');
    const watcher = adapterOn(target, ns);
    const writer = adapterOn(target, ns);
    cleanups.push(() => watcher.close(), () => writer.close());
    let calls = 0;
    const off = watcher.subscribe(() => calls++);
    await until('the first catch-up call', () => calls === 1);
    const result = await writer.commit({ now: new Date().toISOString(), writes: [{ collection: 'a', id: 'x', kind: 'put', body: {} }] });
    expect(result.ok).toBe(true);
    await until('the published commit', () => calls === 2);
    // a commit that writes nothing (a failed precondition) publishes nothing
    const failed = await writer.commit({ now: new Date().toISOString(), writes: [{ collection: 'a', id: 'x', kind: 'put', body: {}, expect: { kind: 'absent' } }] });
    expect(failed.ok).toBe(false);
    await writer.commit({ now: new Date().toISOString(), writes: [{ collection: 'a', id: 'y', kind: 'put', body: {} }] });
    await until('the next published commit', () => calls >= 3);
    await sleep(50);
    expect(calls).toBe(3);
    off();
  });

  it('opens the subscriber with the first listener and closes it with the last and on close', async () => {
    const adapter = adapterOn(target, freshNamespace('lifecycle'));
    cleanups.push(() => adapter.close());
    expect(adapter.subscriber).toBeUndefined();
    const offA = adapter.subscribe(() => undefined);
    const offB = adapter.subscribe(() => undefined);
    const sub = adapter.subscriber!;
    const subEnded = new Promise((resolve) => sub.once('end', resolve)); // Cluster's status goes back to 'close' after 'end'
    await until('ready', () => sub.status === 'ready');
    offA();
    expect(adapter.subscriber).toBe(sub);
    offB();
    expect(adapter.subscriber).toBeUndefined();
    await subEnded;

    const store = openStore(adapter);
    const watch = store.watch(0);
    const first = watch.next();
    await store.insert('a', { id: '1' });
    expect((await first).value?.changes.map((c) => c.id)).toEqual(['1']);
    const again = adapter.subscriber!;
    const againEnded = new Promise((resolve) => again.once('end', resolve));
    const second = watch.next();
    await store.close();
    expect((await second).done).toBe(true);
    expect(adapter.subscriber).toBeUndefined();
    await againEnded;
    adapter.subscribe(() => undefined)(); // after close: no new connection
    expect(adapter.subscriber).toBeUndefined();
  });
});

describe('RedisAdapter change feed across a server restart', () => {
  it('misses nothing committed during and after the outage, each change once and ascending', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cse-redis-watch-'));
    const aof = ['--appendonly', 'yes', '--appendfsync', 'always'];
    let server = await startRedis(dir, aof);
    const port = server.port;
    cleanups.push(async () => {
      await server.stop('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    });
    // A killed server closes the sockets, so commands fail at once; the timeout only bounds a hung
    // server, and a short one fails an ordinary fsync'ed commit on a busy machine (seen in CI).
    const watcher = new RedisAdapter({ url: server.url, namespace: 'restart', commandTimeoutMs: 15_000 });
    const writer = new RedisAdapter({ url: server.url, namespace: 'restart', commandTimeoutMs: 15_000 });
    const store = openStore(watcher);
    const other = openStore(writer);
    cleanups.push(() => store.close(), () => other.close());
    const ids: number[] = [];
    const watching = (async () => {
      for (;;) {
        try {
          for await (const page of store.watch(ids.at(-1) ?? 0)) ids.push(...page.changes.map((c) => c.doc._sync_id));
          return;
        } catch {
          await sleep(20); // the read failed during the outage: watch again from the cursor
        }
      }
    })();
    for (let i = 0; i < 5; i++) await other.insert('a', { id: `before-${i}` });
    await until('the first commits', () => ids.length === 5);

    await server.stop('SIGKILL');
    server = await startRedis(dir, aof, port);
    // A third client commits right after the restart, before the watcher's subscriber is back.
    const third = new RedisAdapter({ url: server.url, namespace: 'restart' });
    for (let i = 0; i < 5; i++) {
      const r = await third.commit({ now: new Date().toISOString(), writes: [{ collection: 'a', id: `during-${i}`, kind: 'put', body: {} }] });
      expect(r.ok).toBe(true);
    }
    await third.close();
    await until('the subscriber to reconnect', () => watcher.subscriber?.status === 'ready');
    await until('the catch-up', () => ids.length === 10);
    for (let i = 0; i < 5; i++) {
      for (;;) {
        try {
          await other.insert('a', { id: `after-${i}` });
          break;
        } catch {
          // the writer's own client may still be reconnecting; a commit whose answer was lost
          // may have landed all the same
          if (await other.get('a', `after-${i}`).catch(() => undefined)) break;
          await sleep(50);
        }
      }
    }
    await until('the later commits', () => ids.length === 15);
    expect(ids).toEqual(range(15));
    await store.close();
    await watching;
  }, 60_000);

  it('calls the listeners once when the subscriber is back, even with nothing committed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cse-redis-watch-'));
    let server = await startRedis(dir);
    const port = server.port;
    cleanups.push(async () => {
      await server.stop('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    });
    const adapter = new RedisAdapter({ url: server.url, namespace: 'catch-up', commandTimeoutMs: 15_000 });
    cleanups.push(() => adapter.close());
    let calls = 0;
    adapter.subscribe(() => calls++);
    await until('the first catch-up call', () => calls === 1);
    await server.stop('SIGKILL');
    await until('the subscriber to notice', () => adapter.subscriber?.status !== 'ready');
    expect(calls).toBe(1);
    server = await startRedis(dir, [], port);
    await until('the catch-up call after the restart', () => calls === 2);
    await sleep(100);
    expect(calls).toBe(2);
  }, 60_000);
});
