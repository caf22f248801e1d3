import type { ChangePage } from '@cse/core';

/** Reads a watch until `n` changes arrived; returns their sync ids in the order they came. */
export async function collect(pages: AsyncIterable<ChangePage>, n: number): Promise<number[]> {
  const ids: number[] = [];
  for await (const page of pages) {
    ids.push(...page.changes.map((c) => c.doc._sync_id));
    if (ids.length >= n) break;
  }
  return ids;
}
