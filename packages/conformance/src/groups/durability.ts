/**
 * Guarantee 5: a write whose promise resolved is there after close and reopen. (After a kill of
 * the process: see the crash group.)
 */
import fc from 'fast-check';
import { equal } from '../assert.js';
import type { PlainWrite } from '../fixtures.js';
import { applyWrite, dump, plainWriteArb } from '../fixtures.js';
import type { Group } from '../group.js';
import { needs } from '../group.js';
import { checkProperty } from '../property.js';

type Step = PlainWrite | { readonly kind: 'tx'; readonly writes: readonly PlainWrite[] };
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: plainWriteArb, weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('tx' as const), writes: fc.array(plainWriteArb, { minLength: 1, maxLength: 4 }) }), weight: 1 },
);

export const durabilityGroupDef: Group = {
  id: 'durability',
  title: '5. Durability',
  requires: needs('persistent'),
  checks: [
    {
      name: 'everything acknowledged is there after close and reopen, exactly as before',
      run: (scope) =>
        checkProperty(
          scope,
          'durability: close and reopen',
          fc.asyncProperty(fc.array(fc.array(stepArb, { maxLength: 10 }), { minLength: 1, maxLength: 3 }), (rounds) =>
            scope.child(async (s) => {
              const name = s.storeName('durable');
              let expected = await dump(await s.store(name));
              for (const [r, steps] of rounds.entries()) {
                const store = await s.store(name);
                equal(await dump(store), expected, `after reopen #${r}: the store holds what it held at close`);
                for (const step of steps) {
                  if (step.kind !== 'tx') {
                    await applyWrite(store, step);
                    continue;
                  }
                  await store
                    .transaction(async (tx) => {
                      for (const w of step.writes) {
                        if (w.kind === 'delete') await tx.delete(w.c, w.id);
                        else await tx[w.kind](w.c, { ...w.body, id: w.id });
                      }
                    })
                    .catch((e: unknown) => {
                      const code = (e as { code?: unknown }).code;
                      if (code !== 'NOT_FOUND' && code !== 'CONFLICT') throw e;
                    });
                }
                expected = await dump(store);
                await s.closeOne(store);
              }
              equal(await dump(await s.store(name)), expected, 'after the last reopen: every acknowledged write is there');
            }),
          ),
          { scale: 0.6 },
        ),
    },
    {
      name: 'a reopened store continues: new writes, versions and ids go on from the stored state',
      run: (scope) =>
        scope.child(async (s) => {
          const name = s.storeName('continue');
          const first = await s.store(name);
          await first.insert('a', { id: 'x', v: 1 });
          const updated = await first.update('a', { id: 'x', v: 2 });
          await s.closeOne(first);
          const second = await s.store(name);
          equal(await second.get('a', 'x'), updated, 'the document is there after reopen');
          const again = await second.update('a', { id: 'x', v: 3 }, { expectedVersion: updated._version });
          equal(again._version, updated._version + 1, 'the version continues after reopen');
          equal(again._sync_id, updated._sync_id + 1, 'the sync id continues after reopen');
          equal(again._created_at, updated._created_at, '_created_at survives reopen');
        }),
    },
  ],
};
