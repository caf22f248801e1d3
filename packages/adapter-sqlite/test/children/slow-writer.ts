// Commits `count` single inserts to the file at `path`, `pauseMs` apart, then exits. A watcher in
// the parent sees them only through the adapter's cross-process check.
import { openStore } from '@cse/core';
import { SqliteAdapter } from '@cse/adapter-sqlite';

const [path, label, count, pauseMs] = process.argv.slice(2) as [string, string, string, string];
const store = openStore(new SqliteAdapter({ path }));
for (let i = 0; i < Number(count); i++) {
  await store.insert('items', { id: `${label}-${i}`, i });
  await new Promise((r) => setTimeout(r, Number(pauseMs)));
}
await store.close();
