/** Built-in factory for `cse-conformance --adapter level`: one classic-level directory per store name. */
import { join } from 'node:path';
import type { StorageAdapter } from '@cse/core';
import { loadPackage } from './load.js';

type LevelModule = { LevelAdapter: new (options: { location: string }) => StorageAdapter & { ready(): Promise<void> } };

export async function open(storeName: string, ctx: { dir: string }): Promise<StorageAdapter> {
  const { LevelAdapter } = await loadPackage<LevelModule>('@cse/adapter-level');
  const adapter = new LevelAdapter({ location: join(ctx.dir, storeName) });
  await adapter.ready();
  return adapter;
}
