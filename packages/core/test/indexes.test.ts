import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { IndexScalar, JsonObject, Query } from '@cse/core';
import { MemoryAdapter, compareJson, compileQuery, encodeIndexValue, indexEntry, indexKey, indexKeyRange, openStore, planIndexProbes, runQuery } from '@cse/core';
import { memoryStore, rejection } from './helpers.js';

const seed = process.env.CSE_TEST_SEED === undefined ? {} : { seed: Number(process.env.CSE_TEST_SEED) };

/** Scalars that exercise the encoding: code points around U+BFFE, astral ones, -0, huge and tiny numbers. */
const scalar: fc.Arbitrary<IndexScalar> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer({ min: -5, max: 5 }),
  fc.string({ unit: fc.constantFrom('a', 'b', '\u0000', '\u0001', '\u00e9', '\ubffd', '\ubfff', '\uc000', '\uffff', '\u{1f600}', '\u{10ffff}'), maxLength: 4 }),
);

describe('index key encoding', () => {
  it('orders encoded values as compareJson orders the values, within and across types', () => {
    fc.assert(
      fc.property(scalar, scalar, (a, b) => {
        const ea = encodeIndexValue(a);
        const eb = encodeIndexValue(b);
        const expected = Math.sign(compareJson(a, b));
        expect(Math.sign(ea < eb ? -1 : ea > eb ? 1 : 0)).toBe(expected);
        // The same in UTF-8 byte order (LevelDB, Redis).
        expect(Math.sign(Buffer.compare(Buffer.from(ea), Buffer.from(eb)))).toBe(expected);
      }),
      { numRuns: 2000, ...seed },
    );
  });

  it('a selector covers exactly the keys of the values it names, whatever the document id', () => {
    fc.assert(
      fc.property(scalar, scalar, scalar, fc.string(), (v, lo, hi, id) => {
        const key = indexKey(indexEntry({ v }, 'v') as string, id);
        const inRange = (s: Parameters<typeof indexKeyRange>[0]): boolean => {
          const { gte, lt } = indexKeyRange(s);
          return key >= gte && key < lt;
        };
        expect(inRange({ kind: 'eq', value: lo })).toBe(compareJson(v, lo) === 0);
        const probes = planIndexProbes(compileQuery({ filter: { v: { $gt: lo, $lte: hi } } }));
        const matched = runQuery([{ id, v }], compileQuery({ filter: { v: { $gt: lo, $lte: hi } } })).length === 1;
        if (matched) expect(probes[0]?.selectors.some(inRange)).toBe(true);
      }),
      { numRuns: 2000, ...seed },
    );
  });
});

const doc = fc.record({ id: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'), v: fc.oneof(scalar, fc.array(scalar, { maxLength: 2 }), fc.constant({ x: 1 })), w: fc.integer({ min: 0, max: 3 }) }, { requiredKeys: ['id', 'w'] });
const query: fc.Arbitrary<Query> = fc.oneof(
  scalar.map((v) => ({ filter: { v } })),
  fc.array(scalar, { maxLength: 3 }).map((vs) => ({ filter: { v: { $in: vs } }, sort: [{ field: 'v', order: 'desc' as const }] })),
  fc.tuple(scalar, scalar, fc.constantFrom('$gt', '$gte'), fc.constantFrom('$lt', '$lte')).map(([a, b, l, u]) => ({ filter: { v: { [l]: a, [u]: b }, w: { $lte: 2 } }, limit: 3 })),
  scalar.map((v) => ({ filter: { v: { $lt: v } }, sort: [{ field: 'v' }], skip: 1 })),
);

describe('find through an index', () => {
  it('returns what a scan returns, across inserts, updates, deletes and an index built late', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom('put', 'put', 'delete'), doc), { maxLength: 25 }), fc.nat({ max: 25 }), fc.array(query, { minLength: 1, maxLength: 5 }), async (ops, indexAt, queries) => {
        const clock = () => new Date(0);
        const indexed = openStore(new MemoryAdapter(), { clock });
        const plain = openStore(new MemoryAdapter(), { clock });
        for (const [i, [kind, d]] of ops.entries()) {
          if (i === indexAt) await indexed.createIndex('c', 'v');
          for (const store of [indexed, plain]) {
            if (kind === 'put') await store.upsert('c', d);
            else if (await store.get('c', d.id)) await store.delete('c', d.id);
          }
        }
        await indexed.createIndex('c', 'v');
        for (const q of queries) expect(await indexed.find('c', q)).toEqual(await plain.find('c', q));
      }),
      { numRuns: 200, ...seed },
    );
  });

  it('reads only the matching documents when an index fits', async () => {
    const adapter = new MemoryAdapter();
    const store = openStore(adapter);
    for (let i = 0; i < 50; i++) await store.insert('c', { id: `d${i}`, n: i % 10, tags: i === 3 ? [7] : [] });
    await store.createIndex('c', 'n');
    let scans = 0;
    const scan = adapter.scanCollection.bind(adapter);
    adapter.scanCollection = async (c: string) => {
      scans++;
      return scan(c);
    };
    const hits = await store.find('c', { filter: { n: 7 } });
    expect(hits.map((d) => d.id)).toEqual(['d17', 'd27', 'd37', 'd47', 'd7']);
    expect(scans).toBe(0);
    await store.find('c', { filter: { tags: 7 } }); // not indexed: scans
    expect(scans).toBe(1);
    expect(await store.listIndexes()).toEqual([{ collection: 'c', field: 'n' }]);
    await store.dropIndex('c', 'n');
    await store.find('c', { filter: { n: 7 } });
    expect(scans).toBe(2);
  });

  it('rejects bad index declarations, and adapters without the capability', async () => {
    const store = memoryStore();
    for (const field of ['', 'a..b', 'items.0', '_version', 'a b', 'x'.repeat(129), 'a.b.c.d.e.f.g.h.i']) {
      expect((await rejection(store.createIndex('c', field))).code, field).toBe('VALIDATION');
    }
    expect((await rejection(store.createIndex('_system', 'a'))).code).toBe('VALIDATION');
    const adapter = new MemoryAdapter();
    Object.defineProperty(adapter, 'capabilities', { value: { ...adapter.capabilities, indexes: false } });
    const plain = openStore(adapter);
    expect((await rejection(plain.createIndex('c', 'a'))).code).toBe('UNSUPPORTED');
    expect(await plain.listIndexes()).toEqual([]);
  });

  it('documents whose field is an object or missing have no entry; arrays match $eq by element', async () => {
    const docs: (JsonObject & { id: string })[] = [{ id: 'o', v: { a: 1 } }, { id: 'm' }, { id: 'a', v: [1, 'x'] }, { id: 's', v: 1 }];
    expect(docs.map((d) => indexEntry(d, 'v'))).toEqual([undefined, undefined, 'g', encodeIndexValue(1)]);
    const store = memoryStore();
    await store.createIndex('c', 'v');
    for (const d of docs) await store.insert('c', d);
    expect((await store.find('c', { filter: { v: 1 } })).map((d) => d.id)).toEqual(['a', 's']);
    expect((await store.find('c', { filter: { v: { $gte: 1 } } })).map((d) => d.id)).toEqual(['s']);
  });
});
