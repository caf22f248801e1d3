/** Built-in factory for `cse-conformance --adapter sqlite`: one SQLite file per store name in the run's directory. */
import { join } from 'node:path';
import type { StorageAdapter } from '@cse/core';
import { loadPackage } from './load.js';

type SqliteModule = { SqliteAdapter: new (options: { path: string }) => StorageAdapter };

export async function open(storeName: string, ctx: { dir: string }): Promise<StorageAdapter> {
  const { SqliteAdapter } = await loadPackage<SqliteModule>('@cse/adapter-sqlite');
  return new SqliteAdapter({ path: join(ctx.dir, `${storeName}.db`) });
}
