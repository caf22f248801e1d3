import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MemoryAdapter } from '@cse/core';
import type { CommitRequest, Expectation, StorageAdapter, StoredRecord, WriteOp } from '@cse/core';
import { freshName, openAdapter } from './env.js';

// Random commit sequences against MemoryAdapter (the reference) and IndexedDB: every result and
// the final state must be the same. A small stand-in until @cse/conformance runs here too.

const collection = fc.constantFrom('a', 'b', '_sys');
const id = fc.constantFrom('x', 'y', 'x\u0000y', '__proto__', '');
const expectation: fc.Arbitrary<Expectation | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.constant({ kind: 'absent' as const }),
  fc.constant({ kind: 'exists' as const }),
  fc.integer({ min: 1, max: 4 }).map((version) => ({ kind: 'version' as const, version })),
);
const write = fc
  .record({ collection, id, kind: fc.constantFrom('put', 'put', 'delete', 'check'), expect: expectation, n: fc.integer() })
  .map(({ collection: c, id: i, kind, expect, n }): WriteOp => ({
    collection: c,
    id: `k${i}`,
    kind: kind as WriteOp['kind'],
    ...(kind === 'put' ? { body: { id: `k${i}`, n, nested: { list: [n, null, 'v'] } } } : {}),
    ...(expect ? { expect } : {}),
  }));
const commit = fc
  .uniqueArray(write, { minLength: 1, maxLength: 4, selector: (w) => `${w.collection}/${w.id}` })
  .map((writes): CommitRequest => ({ writes, now: '2026-01-01T00:00:00.000Z' }));
const step = fc.oneof(
  { weight: 5, arbitrary: commit.map((request) => ({ op: 'commit' as const, request })) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 12 }).map((through) => ({ op: 'compact' as const, through })) },
);

const byKey = (a: StoredRecord, b: StoredRecord) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Follows the cursor page by page, as a syncing reader does. */
async function readAll(adapter: StorageAdapter, limit: number, collections?: string[]): Promise<StoredRecord[]> {
  const out: StoredRecord[] = [];
  let cursor = 0;
  // More pages than there can be records means the cursor is stuck: fail instead of spinning.
  for (let pages = 0; pages <= 100; pages++) {
    const page = await adapter.changes(cursor, { limit, ...(collections ? { collections } : {}) });
    if (page.length === 0) return out;
    out.push(...page);
    cursor = page[page.length - 1]?.syncId ?? cursor;
  }
  throw new Error(`changes() never ran dry: the cursor is stuck at ${cursor}`);
}

async function state(adapter: StorageAdapter) {
  const collections = await adapter.listCollections();
  const scans = await Promise.all(collections.map(async (c) => (await adapter.scanCollection(c)).sort(byKey)));
  return {
    sequence: await adapter.sequence(),
    collections,
    scans,
    changes: await adapter.changes(0, { limit: 1000 }),
    pages: await readAll(adapter, 2),
    filteredPages: await readAll(adapter, 1, ['a', '_sys']),
  };
}

describe('IndexedDbAdapter against MemoryAdapter', () => {
  it('gives the same results for random commit sequences', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 12 }), async (steps) => {
        const model = new MemoryAdapter();
        const real = await openAdapter(freshName('model'));
        try {
          for (const s of steps) {
            if (s.op === 'commit') expect(await real.commit(s.request)).toEqual(await model.commit(s.request));
            else expect(await real.compact(s.through)).toBe(await model.compact(s.through));
          }
          expect(await state(real)).toEqual(await state(model));
        } finally {
          await real.close();
        }
      }),
      { numRuns: 40 },
    );
  });
});
