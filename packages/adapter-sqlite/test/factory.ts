import { join } from 'node:path';
import type { StorageAdapter } from '@cse/core';
import { SqliteAdapter } from '@cse/adapter-sqlite';

/** Opens (or reopens) the store `storeName`: one SQLite file in the run's temp dir. */
export function open(storeName: string, ctx: { dir: string }): StorageAdapter {
  return new SqliteAdapter({ path: join(ctx.dir, `${encodeURIComponent(storeName)}.db`) });
}
