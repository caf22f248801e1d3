/**
 * The child process of the crash and multi-process groups. Run as
 * `node [--conditions=@cse/source --import tsx] child.(ts|js) '<ChildConfig JSON>'`.
 * It imports the factory module, opens the store and writes, printing one JSON line per
 * acknowledged write, so the parent knows exactly what was acknowledged when it kills it.
 */
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { StorageAdapter, Store } from '@cse/core';
import { OpType, TxCache, openStore, withRetry } from '@cse/core';
import type { ChildConfig, ChildMessage } from './protocol.js';
import { DOCS_PER_COMMIT, OPS_PER_TX } from './protocol.js';

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
  for (let n = 0; ; n++) {
    if (n % 2 === 0) {
      await store.transaction(async (tx) => {
        for (let k = 0; k < DOCS_PER_COMMIT; k++) await tx.insert('crash', { id: `${tag}-c${n}-${k}`, commit: n, tag });
        await tx.upsert('crash', { id: `${tag}-last`, commit: n, tag });
      });
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

/** Commits its own documents and increments a shared counter (read, then write expecting that version). */
async function writer(store: Store, tag: string, commits: number): Promise<void> {
  for (let n = 0; n < commits; n++) {
    if (n % 2 === 0) {
      const doc = await store.insert('mp', { id: `${tag}-${n}`, n, tag });
      send({ t: 'commit', n, ids: [doc._sync_id] });
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

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as ChildConfig;
  const open = await loadOpen(config.module);
  const store = openStore(await open(config.storeName, { dir: config.dir }));
  send({ t: 'ready' });
  if (config.mode === 'crash') await crash(store, config.tag);
  if (config.startFile !== undefined) await waitForFile(config.startFile);
  await writer(store, config.tag, config.commits ?? 20);
  await store.close();
}

main().catch((e: unknown) => {
  send({ t: 'error', message: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
  process.exitCode = 1;
});
