import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryAdapter } from '@cse/core';
import type { CommitRequest, Expectation, WriteOp } from '@cse/core';
import { adapterOn, freshNamespace, targets } from './targets.js';

const collection = fc.constantFrom('a', 'b', '_sys');
const id = fc.constantFrom('x', 'y', 'z', '{k}', '\u0000');
const expectation: fc.Arbitrary<Expectation | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.constant({ kind: 'absent' as const }),
  fc.constant({ kind: 'exists' as const }),
  fc.integer({ min: 1, max: 4 }).map((version) => ({ kind: 'version' as const, version })),
);
const body = fc.dictionary(fc.constantFrom('n', 's', 'deep', '__proto__', 'constructor'), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 });
const write: fc.Arbitrary<WriteOp> = fc
  .record({ collection, id, kind: fc.constantFrom('put' as const, 'delete' as const, 'check' as const), expect: expectation, body })
  .map(({ body: b, expect: e, ...w }) => ({ ...w, ...(e && { expect: e }), ...(w.kind === 'put' && { body: JSON.parse(JSON.stringify({ ...b, id: w.id })) as never }) }));
const request: fc.Arbitrary<CommitRequest> = fc
  .tuple(fc.uniqueArray(write, { minLength: 1, maxLength: 4, selector: (w) => `${w.collection}/${w.id}` }), fc.integer({ min: 0, max: 1e9 }))
  .map(([writes, ms]) => ({ writes, now: new Date(Date.UTC(2026, 0, 1) + ms).toISOString() }));
const step = fc.oneof(
  { weight: 8, arbitrary: request.map((r) => ({ commit: r })) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 30 }).map((through) => ({ compact: through })) },
);

describe.each(targets)('RedisAdapter against the MemoryAdapter model on a $name', (target) => {
  it('gives the same results and state for random command sequences', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), async (steps) => {
        const redis = adapterOn(target, freshNamespace('model'));
        const memory = new MemoryAdapter();
        try {
          for (const s of steps) {
            if ('commit' in s) expect(await redis.commit(s.commit)).toEqual(await memory.commit(s.commit));
            else expect(await redis.compact(s.compact)).toBe(await memory.compact(s.compact));
          }
          expect(await redis.sequence()).toEqual(await memory.sequence());
          expect(await redis.listCollections()).toEqual(await memory.listCollections());
          for (const limit of [1, 3, 1000]) {
            for (const after of [0, 4]) {
              expect(await redis.changes(after, { limit })).toEqual(await memory.changes(after, { limit }));
              expect(await redis.changes(after, { limit, collections: ['b', '_sys'] })).toEqual(await memory.changes(after, { limit, collections: ['b', '_sys'] }));
            }
          }
          const order = (r: { id: string }, s: { id: string }): number => (r.id < s.id ? -1 : r.id > s.id ? 1 : 0);
          for (const c of ['a', 'b', '_sys']) expect((await redis.scanCollection(c)).sort(order)).toEqual((await memory.scanCollection(c)).sort(order));
        } finally {
          await redis.close();
        }
      }),
      { numRuns: 60 },
    );
  });
});
