import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isCseError } from '@cse/core';
import { memoryStore } from './helpers.js';

const op = fc.oneof(
  fc.record({ kind: fc.constant('insert' as const), id: fc.constantFrom('a', 'b', 'c') }),
  fc.record({ kind: fc.constant('update' as const), id: fc.constantFrom('a', 'b', 'c'), v: fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }) }),
  fc.record({ kind: fc.constant('upsert' as const), id: fc.constantFrom('a', 'b', 'c') }),
  fc.record({ kind: fc.constant('delete' as const), id: fc.constantFrom('a', 'b', 'c') }),
);

describe('sync ids and the change feed', () => {
  it('every accepted write gets the next id; rejected writes take none; a follower misses nothing (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 40 }), fc.integer({ min: 1, max: 5 }), async (ops, pageSize) => {
        const store = memoryStore();
        const latest = new Map<string, number>();
        let expected = 0;
        let cursor = 0;
        const followed = new Map<string, number>();
        for (const o of ops) {
          try {
            const doc =
              o.kind === 'insert'
                ? await store.insert('t', { id: o.id })
                : o.kind === 'update'
                  ? await store.update('t', { id: o.id }, o.v === undefined ? {} : { expectedVersion: o.v })
                  : o.kind === 'upsert'
                    ? await store.upsert('t', { id: o.id })
                    : await store.delete('t', o.id);
            expected++;
            expect(doc._sync_id).toBe(expected);
            latest.set(o.id, doc._sync_id);
          } catch (e) {
            expect(isCseError(e), String(e)).toBe(true);
          }
          expect(await store.lastSyncId()).toBe(expected);
          // The follower reads one page after every step.
          const page = await store.changesSince(cursor, { limit: pageSize });
          for (const c of page.changes) {
            expect(c.syncId).toBeGreaterThan(cursor);
            followed.set(c.id, c.syncId);
          }
          cursor = page.cursor;
        }
        for (;;) {
          const page = await store.changesSince(cursor, { limit: pageSize });
          for (const c of page.changes) followed.set(c.id, c.syncId);
          cursor = page.cursor;
          if (!page.hasMore) break;
        }
        expect(followed).toEqual(latest);
      }),
      { numRuns: 150 },
    );
  });
});
