// The original Go package lost its sync counter, its pending transactions and its sync state
// at every restart. These tests restart for real: a separate process writes, then exits.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Registry, SyncState, Tier, TxCache, TxStatus, openStore } from '@cse/core';
import { SqliteAdapter } from '@cse/adapter-sqlite';

const dir = mkdtempSync(join(tmpdir(), 'cse-restart-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runChild(path: string, phase: string): Record<string, unknown> {
  const child = fileURLToPath(new URL('./restart-child.ts', import.meta.url));
  const out = execFileSync(process.execPath, ['--conditions=@cse/source', '--import', 'tsx', child, path, phase], { encoding: 'utf8', timeout: 60_000 });
  return JSON.parse(out.trim().split('\n').pop() as string) as Record<string, unknown>;
}

describe('state survives a process restart (gaps of the original)', () => {
  const path = join(dir, 'edge.db');
  let first: { tx: string; last: number };

  it('sync ids continue above every stored id after a restart', async () => {
    first = runChild(path, 'first') as typeof first;
    const store = openStore(new SqliteAdapter({ path }));
    expect(await store.lastSyncId()).toBe(first.last);
    const doc = await store.insert('container_observed', { id: 'after-restart' });
    expect(doc._sync_id).toBe(first.last + 1);
    const ids = (await store.changesSince(0, { limit: 1000 })).changes.map((c) => c.syncId);
    expect(Math.max(...ids)).toBe(doc._sync_id);
    expect(new Set(ids).size).toBe(ids.length);
    await store.close();
  });

  it('TxCache pending transactions are read back after a restart and replay exactly once', async () => {
    const store = openStore(new SqliteAdapter({ path }));
    const cache = new TxCache(store);
    const pending = await cache.getPending();
    expect(pending.map((t) => [t.txId, t.saga, t.ops.length])).toEqual([[first.tx, 'deploy', 2]]);
    expect((await cache.replay(pending)).committed).toEqual([first.tx]);
    const after = await store.lastSyncId();
    expect((await cache.replay(pending)).skipped).toEqual([first.tx]);
    expect(await store.lastSyncId()).toBe(after);
    expect(await store.get('deployments', 'd1')).toBeDefined();
    expect((await store.get('container_observed', 'w0'))?.i).toBe(100);
    expect((await cache.getTx(first.tx))?.status).toBe(TxStatus.Committed);
    await store.close();
  });

  it('SyncState is persisted and never moves backwards across restarts', async () => {
    const second = runChild(path, 'second') as { state: { syncedThrough: number } };
    expect(second.state.syncedThrough).toBe(4);
    const registry = new Registry();
    registry.registerWorkerType('container');
    const store = openStore(new SqliteAdapter({ path }));
    expect((await new SyncState(store, registry).getState(Tier.Edge)).syncedThrough).toBe(4);
    await store.close();
  });
});
