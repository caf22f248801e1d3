import { join } from 'node:path';
import type { StorageAdapter } from '@cse/core';
import { SqliteAdapter } from '@cse/adapter-sqlite';

/**
 * Opens (or reopens) the store `storeName`: one SQLite file in the run's temp dir. Child processes
 * import this module too. Lock waits are bounded generously (the multi-process group's writers
 * contend for the lock, and on a busy machine one may hold it for seconds): a BUSY error there
 * would be the load, not the adapter.
 */
export function open(storeName: string, ctx: { dir: string }): StorageAdapter {
  return new SqliteAdapter({ path: join(ctx.dir, `${encodeURIComponent(storeName)}.db`), busyTimeout: 120_000 });
}
