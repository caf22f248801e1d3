/**
 * Guarantee 7: what you read equals what you wrote (JSON semantics) plus the metadata; returned
 * objects are copies; caller objects are never mutated.
 */
import type { Doc, Store } from '@cse/core';
import { isCseError, userFields } from '@cse/core';
import fc from 'fast-check';
import { deepEqual, equal, fail, ok } from '../assert.js';
import { MAX_LENGTH_IDS, deepFreeze, drain, edgeJsonArb, longIdArb } from '../fixtures.js';
import type { Group } from '../group.js';
import { checkProperty } from '../property.js';

const SPECIAL_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '', 'a.b', 'k\u0000k', 'é', 'e\u0301', '😀'];

/** A user key: never `id`, never starting with `_`. */
const keyArb = fc.oneof(fc.constantFrom(...SPECIAL_KEYS), fc.string({ unit: 'binary', maxLength: 12 })).filter((k) => k !== 'id' && !k.startsWith('_'));

/** Builds an object with own properties only (a `__proto__` key stays data). */
function own(entries: readonly (readonly [string, unknown])[]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const [k, v] of entries) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  return o;
}

const valueArb = fc.oneof(fc.jsonValue({ maxDepth: 3, stringUnit: 'binary' }), edgeJsonArb);
const bodyArb = fc.uniqueArray(fc.tuple(keyArb, valueArb), { maxLength: 8, selector: ([k]) => k }).map(own);

/** JSON semantics: what a faithful store gives back. */
function viaJson(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v));
}

async function readAllWays(store: Store, collection: string, id: string): Promise<Record<string, Doc | undefined>> {
  const found = (await store.find(collection)).find((d) => d.id === id);
  const changed = (await drain(store, 0)).find((c) => c.collection === collection && c.id === id);
  return {
    get: await store.get(collection, id),
    getMany: (await store.getMany(collection, [id]))[0],
    find: found,
    changesSince: changed?.deleted === false ? changed.doc : undefined,
    transaction: await store.transaction((tx) => tx.get(collection, id)),
  };
}

/** Mutates every nested object/array of `v` in place. */
function scribble(v: unknown): void {
  if (v === null || typeof v !== 'object') return;
  if (Array.isArray(v)) {
    for (const x of v) scribble(x);
    v.push('scribbled');
    return;
  }
  for (const k of Object.keys(v)) scribble((v as Record<string, unknown>)[k]);
  (v as Record<string, unknown>).scribbled = true;
}

export const faithfulDocumentsGroupDef: Group = {
  id: 'faithful-documents',
  title: '7. Faithful documents',
  checks: [
    {
      name: 'generated JSON documents read back equal (get, getMany, find, changesSince, transactions)',
      run: (scope) =>
        checkProperty(
          scope,
          'faithful documents: JSON round trip',
          fc.asyncProperty(bodyArb, bodyArb, (first, second) =>
            scope.child(async (s) => {
              const store = await s.store(s.storeName('faithful'));
              const inserted = await store.insert('docs', { ...first, id: 'd' });
              equal(userFields(inserted), viaJson({ ...first, id: 'd' }), 'insert returns the document as written');
              for (const [way, doc] of Object.entries(await readAllWays(store, 'docs', 'd'))) {
                equal(doc, inserted, `${way} returns the inserted document`);
              }
              const updated = await store.update('docs', { ...second, id: 'd' });
              equal(userFields(updated), viaJson({ ...second, id: 'd' }), 'update replaces the document (fields left out are gone)');
              for (const [way, doc] of Object.entries(await readAllWays(store, 'docs', 'd'))) {
                equal(doc, updated, `${way} returns the updated document`);
              }
              ok(Object.getPrototypeOf(updated) === Object.prototype || Object.getPrototypeOf(updated) === null, 'documents are plain objects');
              ok(({} as Record<string, unknown>).scribbled === undefined && Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted') === false, 'no prototype pollution');
            }),
          ),
        ),
    },
    {
      name: 'JSON edge cases: -0, huge and tiny numbers, long strings, deep nesting, distinct unicode forms',
      run: (scope) =>
        scope.child(async (s) => {
          const store = await s.store(s.storeName('edges'));
          let deep: unknown = 'bottom';
          for (let i = 0; i < 60; i++) deep = i % 2 === 0 ? [deep] : { d: deep };
          const body = own([
            ['negZero', -0],
            ['big', 2 ** 53 + 2],
            ['huge', 1.7976931348623157e308],
            ['tiny', 5e-324],
            ['float', 0.1 + 0.2],
            ['long', 'x'.repeat(100_000)],
            ['deep', deep],
            ['é', 'NFC'],
            ['e\u0301', 'NFD'],
            ['nul', 'a\u0000b'],
            ['emoji', '😀\u{1F3F3}\u{FE0F}\u{200D}\u{1F308}'],
            ['lone', 'x\uD800y'],
            ['empty', { '': [] }],
            ['nested', JSON.parse('{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}')],
            ['constructor', { prototype: { polluted: true } }],
            ['toString', 'not a function'],
          ]);
          const doc = await store.insert('edges', { ...body, id: 'e' });
          const expected = viaJson({ ...body, id: 'e' });
          equal(userFields(doc), expected, 'insert returns the edge cases with JSON semantics');
          for (const [way, got] of Object.entries(await readAllWays(store, 'edges', 'e'))) {
            equal(got && userFields(got), expected, `${way} returns the edge cases with JSON semantics`);
          }
          ok(({} as Record<string, unknown>).polluted === undefined, 'a "__proto__" key polluted Object.prototype');
        }),
    },
    {
      name: 'ids at the maximal length (1024 units) in 1-, 2-, 3-byte and astral characters: written, read, updated, deleted, kept apart',
      run: async (scope) => {
        const roundTrip = async (store: Store, label: string, id: string): Promise<void> => {
          const inserted = await store.insert('long', { id, label });
          for (const [way, doc] of Object.entries(await readAllWays(store, 'long', id))) equal(doc, inserted, `${label} id: ${way} returns the document`);
          const updated = await store.update('long', { id, label, v: 2 });
          equal(await store.get('long', id), updated, `${label} id: get after update`);
          // The same id one unit shorter is another document (a backend that truncates keys mixes them up).
          const shorter = id.slice(0, /[\uD800-\uDBFF]/.test(id.at(-2) ?? '') ? -2 : -1);
          const other = await store.upsert('long', { id: shorter, label: `${label} (shorter)` });
          equal(await store.get('long', id), updated, `${label} id: a shorter id changed the maximal one`);
          equal(await store.get('long', shorter), other, `${label} id: the shorter id reads back`);
          const tomb = await store.delete('long', id);
          equal(await store.get('long', id), undefined, `${label} id: get after delete`);
          ok((await drain(store, 0)).some((c) => c.id === id && c.deleted && c.syncId === tomb._sync_id), `${label} id: changesSince returns its tombstone`);
        };
        await scope.child(async (s) => {
          const store = await s.store(s.storeName('long-ids'));
          for (const [label, id] of MAX_LENGTH_IDS) await roundTrip(store, label, id);
        });
        await checkProperty(
          scope,
          'faithful documents: long ids',
          fc.asyncProperty(longIdArb, (id) => scope.child(async (s) => roundTrip(await s.store(s.storeName('long-id')), `${id.length}-unit`, id))),
          { scale: 0.2 },
        );
      },
    },
    {
      name: 'returned objects are copies: mutating them changes nothing stored',
      run: (scope) =>
        scope.child(async (s) => {
          const store = await s.store(s.storeName('copies'));
          const body = { id: 'm', nested: { list: [1, { deep: true }] }, n: 1 };
          const inserted = await store.insert('a', body);
          const reference = structuredClone(inserted);
          const reads: [string, () => Promise<unknown>][] = [
            ['insert result', async () => inserted],
            ['get', () => store.get('a', 'm')],
            ['getMany', () => store.getMany('a', ['m'])],
            ['find', () => store.find('a')],
            ['changesSince', () => store.changesSince(0)],
            ['transaction get', () => store.transaction((tx) => tx.get('a', 'm'))],
            ['transaction find', () => store.transaction((tx) => tx.find('a'))],
          ];
          for (const [way, read] of reads) {
            scribble(await read());
            equal(await store.get('a', 'm'), reference, `mutating what ${way} returned changed the stored document`);
            equal((await store.changesSince(0)).changes[0]?.doc, reference, `mutating what ${way} returned changed what changesSince returns`);
          }
          const conflict = await store.insert('a', { id: 'm' }).catch((e: unknown) => e);
          ok(isCseError(conflict, 'CONFLICT'), 'inserting an existing id is a CONFLICT');
          scribble((conflict as { current?: unknown }).current);
          equal(await store.get('a', 'm'), reference, 'mutating ConflictError.current changed the stored document');
        }),
    },
    {
      name: 'caller objects are never mutated, and mutating them later changes nothing stored',
      run: (scope) =>
        checkProperty(
          scope,
          'faithful documents: caller objects',
          fc.asyncProperty(bodyArb, bodyArb, (first, second) =>
            scope.child(async (s) => {
              const store = await s.store(s.storeName('callers'));
              const input = { ...first, id: 'c', _version: 41, _sync_id: 99_999 };
              const snapshot = structuredClone(input);
              const frozen = deepFreeze(structuredClone({ ...second, id: 'f' }));
              let stored: Doc;
              try {
                stored = await store.insert('a', input);
                await store.insert('a', frozen);
                await store.upsert('a', frozen);
                await store.update('a', frozen);
                await store.transaction(async (tx) => {
                  await tx.update('a', frozen);
                });
              } catch (e) {
                if (e instanceof TypeError) fail(`the Store mutated a caller's (frozen) object: ${e.message}`);
                throw e;
              }
              ok(deepEqual(input, snapshot), 'insert mutated the object passed in');
              scribble(input);
              equal(await store.get('a', 'c'), stored, 'mutating the object passed in, after the write, changed the stored document');
              equal(stored._version, 1, 'a _version passed in is not trusted');
              ok(stored._sync_id !== 99_999 || (await store.lastSyncId()) >= 99_999, 'a _sync_id passed in is not trusted');
            }),
          ),
          { scale: 0.4 },
        ),
    },
  ],
};
