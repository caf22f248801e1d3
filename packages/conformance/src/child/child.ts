/**
 * The child process of the crash and multi-process groups. Run as
 * `node [--conditions=@cse/source --import tsx] child.(ts|js) '<ChildConfig JSON>'`.
 * It imports the factory module, opens the store and writes, printing one JSON line per
 * acknowledged write, so the parent knows exactly what was acknowledged when it kills it.
 */
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { StorageAdapter, Store } from '@cse/core';
import { OpType, TriangularStore, TxCache, openStore, withRetry } from '@cse/core';
import { migRegistry } from '../groups/migrations-schema.js';
import type { ChildConfig, ChildMessage } from './protocol.js';
import { DOCS_PER_COMMIT, OPS_PER_TX, WRITES_IN_FLIGHT } from './protocol.js';

type Open = (storeName: string, ctx: { dir: string }) => StorageAdapter | Promise<StorageAdapter>;

function send(message: ChildMessage): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

async function loadOpen(module: string): Promise<Open> {
  // An absolute path becomes a file URL; a file URL or a package name is imported as it is.
  const url = isAbsolute(module) ? pathToFileURL(module).href : module;
  const mod = (await import(url)) as { open?: unknown; default?: unknown };
  const candidate = mod.open ?? (mod.default as { open?: unknown } | undefined)?.open ?? mod.default;
  if (typeof candidate !== 'function') throw new Error(`${module} exports no function "open"`);
  return candidate as Open;
}

/** Polls for `path` (the parent's start signal), for at most two minutes. */
async function waitForFile(path: string): Promise<void> {
  const { existsSync } = await import('node:fs');
  for (let waited = 0; !existsSync(path); waited += 2) {
    if (waited > 120_000) throw new Error(`no start signal at ${path}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Alternates multi-document commits and TxCache transactions until the process is killed. */
async function crash(store: Store, tag: string): Promise<never> {
  const txs = new TxCache(store);
  let lastMs = 0;
  for (let n = 0; ; n++) {
    if (n % 2 === 0) {
      const began = performance.now();
      send({ t: 'commit-begin', n, lastMs });
      await store.transaction(async (tx) => {
        for (let k = 0; k < DOCS_PER_COMMIT; k++) await tx.insert('crash', { id: `${tag}-c${n}-${k}`, commit: n, tag });
        await tx.upsert('crash', { id: `${tag}-last`, commit: n, tag });
      });
      lastMs = performance.now() - began;
      const docs = await store.getMany('crash', [`${tag}-c${n}-0`, `${tag}-last`]);
      send({ t: 'commit', n, ids: docs.map((d) => d?._sync_id ?? -1) });
    } else {
      const txId = await txs.beginTx({ n, tag });
      send({ t: 'tx-begun', n, txId });
      for (let k = 0; k < OPS_PER_TX; k++) await txs.recordOp(txId, OpType.Insert, 'txdocs', { id: `${tag}-t${n}-${k}`, tx: n, tag });
      send({ t: 'tx-recorded', n, txId, ops: OPS_PER_TX });
      // Leave every third transaction pending on purpose: replay must finish it.
      if (n % 3 === 0) continue;
      await txs.commit(txId);
      send({ t: 'tx-committed', n, txId });
    }
  }
}

/** Values the `index` child writes: every type an index keeps, arrays, objects, a missing field. */
const INDEX_CHILD_VALUES = [null, true, false, 0, 1, 1.5, -2, '', 'a', 'b', '\u{1f600}', [1, 'a'], { x: 1 }, undefined];

/** Declares an index, then moves documents between indexed values (and deletes some) until killed. */
async function indexWriter(store: Store, tag: string): Promise<never> {
  await store.createIndex('ixcrash', 'v');
  const value = (i: number): Record<string, unknown> => {
    const v = INDEX_CHILD_VALUES[i % INDEX_CHILD_VALUES.length];
    return v === undefined ? {} : { v };
  };
  for (let n = 0; ; n++) {
    send({ t: 'commit-begin', n, lastMs: 0 });
    await store.transaction(async (tx) => {
      await tx.upsert('ixcrash', { id: `${tag}-${n % 4}`, ...value(n * 3) });
      await tx.upsert('ixcrash', { id: `${tag}-${(n + 1) % 4}`, ...value(n * 5 + 1) });
      if (await tx.get('ixcrash', `${tag}-${(n + 2) % 4}`)) await tx.delete('ixcrash', `${tag}-${(n + 2) % 4}`);
    });
    send({ t: 'commit', n, ids: [] });
  }
}

/**
 * Follows the store as a sync client does: `changesSince(cursor)`, cursor to the page's cursor,
 * as fast as it can. Beside that cursor it looks back a little (`changesSince(cursor - 32)`) to
 * see any id that becomes visible only after a larger one was already visible.
 */
async function reader(store: Store, stopFile: string): Promise<void> {
  const { existsSync } = await import('node:fs');
  const view = new Map<string, number>();
  const seen = new Set<number>();
  const late: string[] = [];
  let cursor = 0;
  let maxSeen = 0;
  let polls = 0;
  const note = (key: string, syncId: number): void => {
    if (!seen.has(syncId) && syncId < maxSeen) late.push(`${key} at _sync_id ${syncId} became visible after _sync_id ${maxSeen}`);
    seen.add(syncId);
    maxSeen = Math.max(maxSeen, syncId);
  };
  for (let stopping = false; ; ) {
    const page = await store.changesSince(cursor, { limit: 16 });
    polls++;
    for (const c of page.changes) {
      const key = `${c.collection}/${c.id}`;
      view.set(key, c.syncId);
      note(key, c.syncId);
    }
    cursor = page.cursor;
    const back = await store.changesSince(Math.max(0, maxSeen - 32), { limit: 64 });
    for (const c of back.changes) note(`${c.collection}/${c.id}`, c.syncId);
    if (page.hasMore) continue;
    if (stopping) break;
    stopping = existsSync(stopFile); // one more full page after the stop signal
    await new Promise((r) => setImmediate(r));
  }
  send({ t: 'seen', view: [...view], late, polls });
}

/** Commits its own documents and increments a shared counter (read, then write expecting that version). */
async function writer(store: Store, tag: string, commits: number): Promise<void> {
  for (let n = 0; n < commits; n++) {
    if (n % 2 === 0) {
      // Several commits in flight from one process, as an application writes: each commit's
      // atomic unit then competes with the other processes' for the store's lock.
      const docs = await Promise.all(Array.from({ length: WRITES_IN_FLIGHT }, (_, k) => store.insert('mp', { id: `${tag}-${n}-${k}`, n, tag })));
      send({ t: 'commit', n, ids: docs.map((d) => d._sync_id).sort((a, b) => a - b) });
    } else {
      const saved = await withRetry(
        async () => {
          const current = await store.get('mp', 'counter');
          const value = ((current?.value as number | undefined) ?? 0) + 1;
          return current === undefined
            ? store.insert('mp', { id: 'counter', value })
            : store.update('mp', { id: 'counter', value }, { expectedVersion: current._version });
        },
        { retries: 200, baseDelayMs: 1, maxDelayMs: 20 },
      );
      send({ t: 'increment', syncId: saved._sync_id, value: saved.value as number });
    }
  }
  send({ t: 'done' });
}

/** One commit per step, each when the parent says so; reports the ids of every commit. */
async function steps(store: Store, tag: string, batches: readonly number[], stepFile: string): Promise<void> {
  for (const [n, size] of batches.entries()) {
    await waitForFile(`${stepFile}-${n}`);
    const docs = await store.insertMany('steps', Array.from({ length: size }, (_, k) => ({ id: `${tag}-${n}-${k}` })));
    send({ t: 'commit', n, ids: docs.map((d) => d._sync_id) });
  }
  send({ t: 'done' });
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as ChildConfig;
  const open = await loadOpen(config.module);
  const store = openStore(await open(config.storeName, { dir: config.dir }));
  send({ t: 'ready' });
  if (config.mode === 'crash') await crash(store, config.tag);
  if (config.mode === 'index') await indexWriter(store, config.tag);
  if (config.mode === 'reader') {
    await reader(store, config.stopFile as string);
    await store.close();
    return;
  }
  if (config.mode === 'steps') {
    await steps(store, config.tag, config.batches ?? [], config.stepFile as string);
    await store.close();
    return;
  }
  if (config.mode === 'migrate') {
    await new TriangularStore(store, migRegistry(3)).migrate(undefined, { batchSize: config.batchSize ?? 10, onBatch: (p) => send({ t: 'batch', migrated: p.migrated }) });
    send({ t: 'done' });
    await store.close();
    return;
  }
  if (config.startFile !== undefined) await waitForFile(config.startFile);
  await writer(store, config.tag, config.commits ?? 20);
  await store.close();
}

main().catch((e: unknown) => {
  send({ t: 'error', message: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
  process.exitCode = 1;
});
