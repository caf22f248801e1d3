/**
 * Built-in factory for `cse-conformance --adapter indexeddb`: the IndexedDB adapter on the real
 * IndexedDB of a headless Chromium page. A browser profile may be reused, so every database name
 * starts with this page's random prefix and the suite's per-run `dir`.
 */
import type { StorageAdapter } from '@cse/core';
import { loadPackage } from './load.js';

type IdbModule = { IndexedDbAdapter: new (options: { name: string }) => StorageAdapter & { ready(): Promise<void> } };

const prefix = `cse-conformance-${crypto.randomUUID().slice(0, 8)}`;

export async function open(storeName: string, ctx: { dir: string }): Promise<StorageAdapter> {
  const { IndexedDbAdapter } = await loadPackage<IdbModule>('@cse/adapter-indexeddb');
  const adapter = new IndexedDbAdapter({ name: `${prefix}:${ctx.dir}:${storeName}` });
  await adapter.ready();
  return adapter;
}
