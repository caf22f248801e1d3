import { join } from 'node:path';
import type { StorageAdapter } from '@cse/core';
import { SqliteAdapter } from '@cse/adapter-sqlite';

/** One SQLite file per store name in the run's directory. Child processes import this module too. */
export function open(storeName: string, ctx: { dir: string }): StorageAdapter {
  return new SqliteAdapter({ path: join(ctx.dir, `${storeName}.db`) });
}
