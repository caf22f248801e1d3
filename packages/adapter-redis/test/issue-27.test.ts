/**
 * Regressions of issue 27 on Redis: a malformed expectation was written and then rejected; a
 * batch above about 20 000 writes failed ("Maximum call stack size exceeded": every script
 * argument was spread into one call); a commit that timed out was reported as failed although
 * it had been applied.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { StorageAdapter, WriteOp } from '@cse/core';
import { Replica, isCseError, openStore } from '@cse/core';
import { RedisAdapter } from '@cse/adapter-redis';
import { Redis } from 'ioredis';
import { serverUrl } from './factory.js';
import { adapterOn, freshNamespace, targets } from './targets.js';

const opened: { close(): Promise<unknown> }[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((a) => a.close()));
});

const NOW = '2026-01-01T00:00:00.000Z';

/** Waits for `check` to hold; the bound only ends a hung run. */
async function until(check: () => Promise<boolean>, what: string, boundMs = 120_000): Promise<void> {
  const end = Date.now() + boundMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`gave up waiting: ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe.each(targets)('RedisAdapter on a $name (issue 27)', (target) => {
  it('a malformed expectation is VALIDATION and nothing is written', async () => {
    const adapter: StorageAdapter = adapterOn(target, freshNamespace('malformed'));
    opened.push(adapter);
    expect((await adapter.commit({ now: NOW, writes: [{ collection: 'items', id: 'a', kind: 'put', body: { id: 'a' } }] })).ok).toBe(true);
    const malformed: unknown[] = [{ kind: 'newer' }, 'absent', { kind: 'version', version: '1' }, { kind: 'version', version: 1.5 }, null];
    for (const expectation of malformed) {
      const writes = [
        { collection: 'items', id: 'b', kind: 'put', body: { id: 'b' } },
        { collection: 'items', id: 'a', kind: 'put', body: { id: 'a', v: 2 }, expect: expectation },
      ] as unknown as WriteOp[];
      await expect(adapter.commit({ now: NOW, writes }), JSON.stringify(expectation)).rejects.toMatchObject({ code: 'VALIDATION' });
    }
    expect(await adapter.sequence()).toEqual({ lastSyncId: 1, compactedThrough: 0 });
    expect((await adapter.scanCollection('items')).map((r) => [r.id, r.version])).toEqual([['a', 1]]);
  });

  it('Replica.commit takes 30 000 writes in one atomic commit', async () => {
    const store = openStore(adapterOn(target, freshNamespace('replica-batch')));
    opened.push(store);
    const n = 30_000;
    const writes = Array.from({ length: n }, (_, i) => ({ collection: 'items', id: `r${i}`, kind: 'put' as const, body: { i, _edge_sync_id: i + 1 } }));
    const records = await new Replica(store).commit(writes);
    expect(records.length).toBe(n);
    expect(await store.lastSyncId()).toBe(n);
    const [first, last] = await store.getMany('items', ['r0', `r${n - 1}`]);
    expect([first?.i, first?._edge_sync_id, last?.i]).toEqual([0, 1, n - 1]);
  });
});

describe('a commit whose reply does not come in time (issue 27)', () => {
  it('is BACKEND with details.outcome "unknown", never a plain failure, and it was in fact applied', async () => {
    const client = new Redis(serverUrl(), { maxRetriesPerRequest: 0, autoResendUnfulfilledCommands: false, commandTimeout: 5_000 });
    const namespace = freshNamespace('timeout');
    const adapter = new RedisAdapter({ client, namespace });
    const watcher = new RedisAdapter({ url: serverUrl(), namespace });
    opened.push(adapter, watcher, { close: () => client.quit() });
    // One small commit first, so that the index list is read under the normal timeout.
    expect((await adapter.commit({ now: NOW, writes: [{ collection: 'items', id: 'first', kind: 'put', body: { id: 'first' } }] })).ok).toBe(true);
    // Now a timeout far below what 20 000 writes take: the reply cannot come in time.
    client.options.commandTimeout = 1;
    const n = 20_000;
    const writes: WriteOp[] = Array.from({ length: n }, (_, i) => ({ collection: 'items', id: `d${i}`, kind: 'put', body: { id: `d${i}` } }));
    let error: unknown;
    try {
      await adapter.commit({ now: NOW, writes });
    } catch (e) {
      error = e;
    }
    client.options.commandTimeout = 5_000;
    expect(isCseError(error, 'BACKEND'), String(error)).toBe(true);
    expect((error as { details: Record<string, unknown> }).details.outcome).toBe('unknown');
    expect((error as Error).message).toMatch(/outcome unknown/);
    // The script ran on: the write the caller was told may have happened did happen.
    await until(async () => (await watcher.sequence()).lastSyncId === n + 1, 'the timed-out commit to land');
    expect((await watcher.getMany([{ collection: 'items', id: `d${n - 1}` }]))[0]?.syncId).toBe(n + 1);
  });
});
