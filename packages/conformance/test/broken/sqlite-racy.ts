/**
 * A broken SQLite adapter for the self-test of the multi-process group: it checks preconditions
 * in one read and writes in a later, separate transaction, so two processes can both pass the
 * check of one version (a lost update).
 */
import { join } from 'node:path';
import type { CommitRequest, CommitResult, StorageAdapter } from '@cse/core';
import { meetsExpectation } from '@cse/core';
import { SqliteAdapter } from '@cse/adapter-sqlite';

export function open(storeName: string, ctx: { dir: string }): StorageAdapter {
  const inner = new SqliteAdapter({ path: join(ctx.dir, `${storeName}.db`) });
  const commit = async (request: CommitRequest): Promise<CommitResult> => {
    const prevs = await inner.getMany(request.writes);
    const failures = request.writes.flatMap((w, index) => (meetsExpectation(prevs[index], w.expect) ? [] : [{ index, current: prevs[index] }]));
    if (failures.length > 0) return { ok: false, failures };
    // A wide window between check and write: writers that start together always collide in it.
    await new Promise((resolve) => setTimeout(resolve, 15));
    return inner.commit({ ...request, writes: request.writes.map(({ expect: _e, ...w }) => w) });
  };
  return {
    capabilities: inner.capabilities,
    commit,
    getMany: (keys) => inner.getMany(keys),
    scanCollection: (c) => inner.scanCollection(c),
    changes: (after, o) => inner.changes(after, o),
    listCollections: () => inner.listCollections(),
    sequence: () => inner.sequence(),
    compact: (t) => inner.compact(t),
    close: () => inner.close(),
  };
}
