/**
 * Built-in factory for `cse-conformance --adapter indexeddb --fake`: the IndexedDB adapter on
 * fake-indexeddb in Node (a quick run; the real check is `--adapter indexeddb`, in Chromium).
 */
import type { StorageAdapter } from '@cse/core';
import { defineCapabilities } from '@cse/core';
import { loadPackage } from './load.js';

type IdbModule = { IndexedDbAdapter: new (options: { name: string }) => StorageAdapter & { ready(): Promise<void> } };

export async function open(storeName: string, ctx: { dir: string }): Promise<StorageAdapter> {
  await loadPackage('fake-indexeddb/auto');
  const { IndexedDbAdapter } = await loadPackage<IdbModule>('@cse/adapter-indexeddb');
  const adapter = new IndexedDbAdapter({ name: `${ctx.dir}:${storeName}` });
  await adapter.ready();
  // fake-indexeddb keeps each database in the memory of one process: child processes open
  // databases of their own, so several processes never share a store here (in a browser, tabs do).
  return {
    capabilities: defineCapabilities({ ...adapter.capabilities, multiProcess: false }),
    commit: (r) => adapter.commit(r),
    getMany: (k) => adapter.getMany(k),
    scanCollection: (c) => adapter.scanCollection(c),
    changes: (a, o) => adapter.changes(a, o),
    listCollections: () => adapter.listCollections(),
    sequence: () => adapter.sequence(),
    ...(adapter.compact ? { compact: (t: number) => (adapter.compact as (t: number) => Promise<number>)(t) } : {}),
    close: () => adapter.close(),
  };
}
