/**
 * Typed documents. The type assertions are checked by `tsc` (`npm run typecheck`, part of
 * `npm test`); the `@ts-expect-error` lines fail the type check if the misuse they mark compiles.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { Doc, DocMeta, JsonObject } from '@cse/core';
import { memoryStore } from './helpers.js';

interface Pump {
  id: string;
  rpm: number;
  vendor?: string;
}

describe('typed documents', () => {
  it('give typed reads and checked writes with a type argument', async () => {
    const store = memoryStore();
    const inserted = await store.insert<Pump>('pumps', { id: 'p1', rpm: 1200 });
    expectTypeOf(inserted).toEqualTypeOf<Pump & DocMeta>();
    expect(inserted.rpm).toBe(1200);

    const got = await store.get<Pump>('pumps', 'p1');
    expectTypeOf(got).toEqualTypeOf<(Pump & DocMeta) | undefined>();
    expectTypeOf(got?.rpm).toEqualTypeOf<number | undefined>();
    expect(got?._version).toBe(1);

    const many = await store.getMany<Pump>('pumps', ['p1', 'nope']);
    expectTypeOf(many).toEqualTypeOf<(Doc<Pump> | undefined)[]>();

    const found = await store.find<Pump>('pumps', { filter: { rpm: { $gt: 1000 } } });
    expectTypeOf(found).toEqualTypeOf<Doc<Pump>[]>();
    expect(found.map((p) => p.rpm)).toEqual([1200]);

    // A loaded document saves back as it is (metadata is ignored by the Store).
    const updated = await store.update<Pump>('pumps', { ...(got as Doc<Pump>), rpm: 1300 }, { expectedVersion: 1 });
    expectTypeOf(updated).toEqualTypeOf<Doc<Pump>>();
    expect(updated.rpm).toBe(1300);
    const upserted = await store.upsert<Pump>('pumps', { id: 'p2', rpm: 10, vendor: 'acme' });
    expect(upserted.vendor).toBe('acme');

    // @ts-expect-error -- rpm must be a number for a Pump
    await store.insert<Pump>('pumps', { id: 'p3', rpm: 'fast' }).catch(() => undefined);
    // @ts-expect-error -- a Pump needs rpm
    await store.upsert<Pump>('pumps', { id: 'p4' }).catch(() => undefined);
    // @ts-expect-error -- a typed read has no fields outside Pump and the metadata
    void got?.colour;
  });

  it('keep today\'s behaviour without one: any object in, JSON fields out', async () => {
    const store = memoryStore();
    const doc = await store.insert('things', { id: 'a', when: '2026', n: 1 });
    expectTypeOf(doc).toEqualTypeOf<Doc>();
    expectTypeOf(doc).toEqualTypeOf<JsonObject & DocMeta>();
    const got = await store.get('things', 'a');
    expectTypeOf(got?.n).toEqualTypeOf<JsonObject[string] | undefined>();
    // Values JSON cannot carry still compile and are rejected at run time, as before.
    await expect(store.insert('things', { id: 'b', f: () => 1 })).rejects.toMatchObject({ code: 'VALIDATION' });
  });
});
