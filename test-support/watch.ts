import type { ChangePage } from '@cse/core';

/**
 * Reads a watch until `n` changes arrived (or it ends); returns their sync ids in the order they
 * came. `ids` is filled as pages arrive, for a test that waits for a watcher to get somewhere.
 */
export async function collect(pages: AsyncIterable<ChangePage>, n: number, ids: number[] = []): Promise<number[]> {
  for await (const page of pages) {
    ids.push(...page.changes.map((c) => c.doc._sync_id));
    if (ids.length >= n) break;
  }
  return ids;
}
