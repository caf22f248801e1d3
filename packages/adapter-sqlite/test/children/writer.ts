// One of several processes writing one SQLite file at once. Prints one JSON line per
// acknowledged commit: the ids it wrote and the sync ids they got.
import { openStore, withRetry } from '@cse/core';
import { SqliteAdapter } from '@cse/adapter-sqlite';

const [path, worker, rounds] = process.argv.slice(2) as [string, string, string];
const store = openStore(new SqliteAdapter({ path }));

for (let i = 0; i < Number(rounds); i++) {
  if (i % 2 === 0) {
    const doc = await store.insert('items', { id: `w${worker}-${i}`, worker, i });
    process.stdout.write(`${JSON.stringify({ ids: [doc.id], syncIds: [doc._sync_id] })}\n`);
  } else {
    const ids = [`w${worker}-${i}-a`, `w${worker}-${i}-b`];
    await store.transaction(async (tx) => {
      for (const id of ids) await tx.insert('items', { id, worker, i });
    });
    const docs = await store.getMany('items', ids);
    process.stdout.write(`${JSON.stringify({ ids, syncIds: docs.map((d) => d?._sync_id) })}\n`);
  }
  // A read-modify-write on one document shared by every process: optimistic locking across
  // processes must let each increment through exactly once.
  await withRetry(
    () =>
      store.transaction(async (tx) => {
        const counter = await tx.get('shared', 'counter');
        await tx.upsert('shared', { id: 'counter', n: ((counter?.n as number | undefined) ?? 0) + 1 });
      }),
    { retries: 200, baseDelayMs: 1, maxDelayMs: 20 },
  );
}
await store.close();
