// Writes multi-document commits in a loop until it is killed. Prints `ack <n>` after commit n
// resolved, so every line the parent reads names an acknowledged commit.
import { openStore } from '@cse/core';
import { SqliteAdapter } from '@cse/adapter-sqlite';

const DOCS_PER_COMMIT = 5;

const [path, first] = process.argv.slice(2) as [string, string];
const store = openStore(new SqliteAdapter({ path }));
const pad = 'x'.repeat(2000);

for (let n = Number(first); ; n++) {
  await store.transaction(async (tx) => {
    for (let j = 0; j < DOCS_PER_COMMIT; j++) await tx.upsert('crash', { id: `c${n}-${j}`, commit: n, pad });
    // Also rewrite one document every commit touches, so a torn commit would show as a
    // mismatch between it and the per-commit documents.
    await tx.upsert('crash', { id: 'last', commit: n });
  });
  process.stdout.write(`ack ${n}\n`);
}
