import { join } from 'node:path';
import { SqliteAdapter } from '@cse/adapter-sqlite';
import { runConformance } from '../src/index.js';

// The suite must pass on a real persistent, crash-safe, multi-process adapter too.
runConformance({
  name: 'SqliteAdapter',
  open: (storeName, { dir }) => new SqliteAdapter({ path: join(dir, `${storeName}.db`) }),
});
