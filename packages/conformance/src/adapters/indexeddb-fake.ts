/**
 * Built-in factory for `cse-conformance --adapter indexeddb --fake`: the IndexedDB adapter on
 * fake-indexeddb in Node (a quick run; the real check is `--adapter indexeddb`, in Chromium).
 */
import type { StorageAdapter } from '@cse/core';
import { loadPackage } from './load.js';

type IdbModule = { IndexedDbAdapter: new (options: { name: string }) => StorageAdapter & { ready(): Promise<void> } };

export async function open(storeName: string, ctx: { dir: string }): Promise<StorageAdapter> {
  await loadPackage('fake-indexeddb/auto');
  const { IndexedDbAdapter } = await loadPackage<IdbModule>('@cse/adapter-indexeddb');
  const adapter = new IndexedDbAdapter({ name: `${ctx.dir}:${storeName}` });
  await adapter.ready();
  return adapter;
}
