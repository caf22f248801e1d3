// One of several processes that open the same fresh SQLite file at the same instant: waits for
// the start file, opens the adapter (WAL switch and schema), writes one document, exits.
import { existsSync } from 'node:fs';
import { openStore } from '@cse/core';
import { SqliteAdapter } from '@cse/adapter-sqlite';

const [path, startFile, worker] = process.argv.slice(2) as [string, string, string];
process.stdout.write('ready\n');
while (!existsSync(startFile)) await new Promise((r) => setTimeout(r, 1));
const store = openStore(new SqliteAdapter({ path }));
const doc = await store.insert('opened', { id: `w${worker}` });
process.stdout.write(`${doc._sync_id}\n`);
await store.close();
