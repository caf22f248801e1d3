import type { StorageAdapter } from '@cse/core';
import { dbName, openAdapter } from './env.js';

/**
 * The conformance factory: opens (or reopens) the store called `storeName`, whose database name
 * is `storeName` under this run's prefix. `ctx.dir` is unused: IndexedDB has no files to place.
 */
export function open(storeName: string, _ctx: { dir: string }): Promise<StorageAdapter> {
  return openAdapter(dbName(storeName));
}
