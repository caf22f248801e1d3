import { join } from 'node:path';
import type { StorageAdapter } from '@cse/core';
import { LevelAdapter } from '@cse/adapter-level';

/**
 * Opens (or reopens) the store `storeName` as a classic-level directory under `ctx.dir`, with
 * the default durability (`sync: true`). The conformance suite and the crash children use it.
 */
export async function open(storeName: string, ctx: { dir: string }): Promise<StorageAdapter> {
  const adapter = new LevelAdapter({ location: join(ctx.dir, storeName) });
  await adapter.ready();
  return adapter;
}
