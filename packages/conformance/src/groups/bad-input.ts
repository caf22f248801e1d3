/**
 * Guarantee 8: hostile names, ids and documents. What the contract forbids is a `VALIDATION`
 * error before anything is written; what it allows (any id up to 1024 code units, NUL, SQL and
 * Redis metacharacters, `__proto__` ...) is stored and read back faithfully. Never another
 * error, never a changed unrelated document, never prototype pollution.
 */
import type { Store, WriteOp } from '@cse/core';
import { DEFAULT_MAX_DOCUMENT_BYTES, Replica, userFields } from '@cse/core';
import fc from 'fast-check';
import { equal, fail, ok, rejects, show } from '../assert.js';
import type { Dump } from '../fixtures.js';
import { dump } from '../fixtures.js';
import type { Group } from '../group.js';
import { checkProperty } from '../property.js';

/** Hostile ids the contract allows: each must be stored and read back as it is. */
export const HOSTILE_IDS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  "'; DROP TABLE docs; --",
  '" OR 1=1 --',
  "x' OR '1'='1",
  '*',
  '?',
  '[a-z]',
  '{tag}',
  'a\r\nb',
  'SET x 1\r\n',
  'key:with:colons',
  '!sub!key',
  '\u0000',
  'a\u0000b',
  '\u00ff',
  '\uffff',
  '\u{10FFFF}',
  '😀',
  'é',
  'e\u0301',
  ' ',
  '.',
  '..',
  '/',
  '../../etc/passwd',
  '%00',
  '\\',
  'NaN',
  'undefined',
  'x'.repeat(1024),
];

/** Collection names the contract allows (some look dangerous to a careless backend). */
export const HOSTILE_VALID_COLLECTIONS = ['constructor', 'toString', 'hasOwnProperty', 'valueOf', 'a-b', 'a_b', 'A', 'x'.repeat(64), 'DROP', 'keys', 'select'];

/** Collection names the contract forbids (VALIDATION). */
export const INVALID_COLLECTIONS: unknown[] = [
  '',
  '_cse_tx',
  '_x',
  '__proto__',
  '1abc',
  'a b',
  'a:b',
  'a/b',
  'a.b',
  "a'; DROP TABLE docs; --",
  'a*',
  'é',
  'a\u0000b',
  'x'.repeat(65),
  1,
  null,
  undefined,
  {},
];

/** Ids the contract forbids (VALIDATION). */
export const INVALID_IDS: unknown[] = ['', 'x'.repeat(1025), '\uD800', 'a\uDC00', 1, 0, null, undefined, {}, [], true];

function cycle(): unknown {
  const o: Record<string, unknown> = { a: 1 };
  o.self = o;
  return o;
}

class Point {
  x = 1;
}

/** Document bodies (without `id`) that are a VALIDATION error. */
export const INVALID_BODIES: [string, () => unknown][] = [
  ['a function', () => ({ f: () => 1 })],
  ['a symbol value', () => ({ s: Symbol('s') })],
  ['a BigInt', () => ({ b: 10n })],
  ['NaN', () => ({ n: NaN })],
  ['Infinity', () => ({ n: Infinity })],
  ['-Infinity', () => ({ n: -Infinity })],
  ['a cycle', () => ({ c: cycle() })],
  ['undefined in an array', () => ({ a: [1, undefined] })],
  ['a hole in an array', () => ({ a: [1, , 2] })], // eslint-disable-line no-sparse-arrays
  ['a Date', () => ({ d: new Date(0) })],
  ['a Map', () => ({ m: new Map() })],
  ['a Set', () => ({ m: new Set([1]) })],
  ['a class instance', () => ({ p: new Point() })],
  ['a Uint8Array', () => ({ u: new Uint8Array(2) })],
  ['a symbol key', () => ({ [Symbol('k')]: 1 })],
  ['an unknown _ key', () => ({ _secret: 1 })],
  ['a __proto__ key at the top (reserved: it starts with _)', () => JSON.parse('{"__proto__":{"polluted":true}}')],
  ['_sync_status not pending/synced/conflict', () => ({ _sync_status: 'bogus' })],
  ['_synced_at not a string', () => ({ _synced_at: 5 })],
  ['nesting deeper than 64', () => ({ deep: Array.from({ length: 70 }).reduce<unknown>((acc) => [acc], 0) })],
];

/** Whole documents that are a VALIDATION error. */
export const INVALID_DOCS: [string, () => unknown][] = [
  ['null', () => null],
  ['an array', () => [{ id: 'x' }]],
  ['a string', () => '{"id":"x"}'],
  ['a document without id', () => ({ v: 1 })],
];

/** An object whose `x` getter throws: the Store reading it must not let that error out raw. */
function throwingGetter(): object {
  return Object.defineProperty({}, 'x', {
    enumerable: true,
    get() {
      throw new Error('a getter that throws');
    },
  });
}

/**
 * Calls with malformed arguments beyond names, ids and values (issue 27): `null` options, a
 * transaction without a function, throwing getters and proxies, malformed replica writes. Each
 * must be `VALIDATION` (never a raw `TypeError`/`Error`) with nothing written. `sentinel/keep` exists.
 */
export function hostileCalls(store: Store): [string, () => unknown][] {
  const replica = new Replica(store);
  const throwingOptions = Object.defineProperty({}, 'limit', { enumerable: true, get: () => { throw new Error('a getter that throws'); } });
  return [
    ['changesSince(0, null)', () => store.changesSince(0, null as never)],
    ['changesSince with options whose getter throws', () => store.changesSince(0, throwingOptions)],
    ['watch(0, null)', () => store.watch(0, null as never).next()],
    ['onChanges(0, listener, null)', () => store.onChanges(0, () => undefined, null as never)],
    ['update with options null', () => store.update('sentinel', { id: 'keep' }, null as never)],
    ['upsert with options null', () => store.upsert('sentinel', { id: 'keep' }, null as never)],
    ['delete with options null', () => store.delete('sentinel', 'keep', null as never)],
    ['transaction(null)', () => store.transaction(null as never)],
    ['tx.update with options null', () => store.transaction(async (tx) => tx.update('sentinel', { id: 'keep' }, null as never))],
    ['createIndex with a field whose toString throws', () => store.createIndex('items', { toString: () => { throw new Error('toString throws'); } } as never)],
    ['insert of a document with a throwing getter', () => store.insert('items', { id: 'getter', nested: throwingGetter() })],
    ['update of a document with a throwing getter', () => store.update('sentinel', { id: 'keep', nested: throwingGetter() })],
    ['insert of a proxy whose ownKeys trap throws', () => store.insert('items', new Proxy({ id: 'proxy' }, { ownKeys: () => { throw new Error('trap throws'); } }))],
    ['insertMany with a throwing getter in the second document', () => store.insertMany('items', [{ id: 'b1' }, { id: 'b2', nested: throwingGetter() }])],
    ['find with a filter operand whose getter throws', () => store.find('sentinel', { filter: { v: throwingGetter() as never } })],
    ['find with a throwing $in element', () => store.find('sentinel', { filter: { v: { $in: [throwingGetter() as never] } } })],
    ['Replica.commit([null])', () => replica.commit([null as never])],
    ['Replica.commit of a body with a throwing getter', () => replica.commit([{ collection: 'items', id: 'r', kind: 'put', body: throwingGetter() as never }])],
    ...MALFORMED_EXPECTATIONS.map(([what, expect]): [string, () => unknown] => [
      `Replica.commit with ${what}`,
      () => replica.commit([{ collection: 'sentinel', id: 'keep', kind: 'put', body: { v: 'changed' }, expect: expect as never }]),
    ]),
  ];
}

/** Expectations no adapter may read as "none" or as a mismatch: each is `VALIDATION` before anything is written. */
export const MALFORMED_EXPECTATIONS: [string, unknown][] = [
  ['an unknown expect kind', { kind: 'newer' }],
  ["expect: 'absent' as a string", 'absent'],
  ["a version given as the string '1'", { kind: 'version', version: '1' }],
  ['a version of 1.5', { kind: 'version', version: 1.5 }],
  ['a version without a number', { kind: 'version' }],
  ['expect: null', null],
];

type Op = 'insert' | 'upsert' | 'update' | 'delete' | 'get' | 'getMany' | 'find' | 'changes';
const ops: Op[] = ['insert', 'upsert', 'update', 'delete', 'get', 'getMany', 'find', 'changes'];

async function call(store: Store, op: Op, collection: unknown, id: unknown, body: unknown): Promise<unknown> {
  const c = collection as string;
  const doc = body as { id: string };
  switch (op) {
    case 'insert':
      return store.insert(c, doc);
    case 'upsert':
      return store.upsert(c, doc);
    case 'update':
      return store.update(c, doc);
    case 'delete':
      return store.delete(c, id as string);
    case 'get':
      return store.get(c, id as string);
    case 'getMany':
      return store.getMany(c, [id as string]);
    case 'find':
      return store.find(c, { filter: { v: 1 } });
    case 'changes':
      return store.changesSince(0, { collections: [c] });
  }
}

/** A store with a sentinel document in a plain collection and one in a hostile-but-valid one. */
const SENTINELS = ['sentinel', 'sentinel-proto'];

async function withSentinels(store: Store): Promise<Dump> {
  await store.insert('sentinel', { id: 'keep', v: 'unchanged' });
  await store.insert('sentinel-proto', { id: '__proto__', v: 'unchanged' });
  return dump(store, SENTINELS);
}

const idArb = fc.oneof(
  fc.constantFrom(...HOSTILE_IDS),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }),
  fc.string({ unit: fc.constantFrom('\u0000', ':', '!', '*', "'", '"', '\\', '\r', '\n', '%', '{', '}', '\uD800', '\uDC00', 'a'), maxLength: 8 }),
);
const LONE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const validId = (id: string): boolean => id.length > 0 && id.length <= 1024 && !LONE.test(id);

export const badInputGroupDef: Group = {
  id: 'bad-input',
  title: '8. Bad input',
  checks: [
    {
      name: 'every forbidden name, id, value and document is a VALIDATION error that writes nothing',
      run: (scope) =>
        scope.child(async (s) => {
          const store = await s.store(s.storeName('forbidden'));
          const before = await withSentinels(store);
          const cases: [string, () => Promise<unknown>][] = [];
          for (const c of INVALID_COLLECTIONS) {
            for (const op of ops) cases.push([`${op} in collection ${show(c)}`, () => call(store, op, c, 'x', { id: 'x' })]);
          }
          for (const id of INVALID_IDS) {
            for (const op of ['insert', 'upsert', 'update'] as const) cases.push([`${op} with id ${show(id)}`, () => call(store, op, 'items', id, { id })]);
            for (const op of ['delete', 'get', 'getMany'] as const) cases.push([`${op} of id ${show(id)}`, () => call(store, op, 'items', id, undefined)]);
          }
          for (const [what, make] of INVALID_BODIES) {
            for (const op of ['insert', 'upsert', 'update'] as const) {
              cases.push([`${op} of a document holding ${what}`, () => call(store, op, 'items', 'x', { ...(make() as object), id: 'x' })]);
            }
            cases.push([`a transaction writing ${what}`, () => store.transaction(async (tx) => tx.upsert('items', { ...(make() as object), id: 'x' }))]);
          }
          for (const [what, make] of INVALID_DOCS) cases.push([`insert of ${what}`, () => call(store, 'insert', 'items', 'x', make())]);
          cases.push([`a document over ${DEFAULT_MAX_DOCUMENT_BYTES} bytes`, () => store.insert('items', { id: 'big', blob: 'x'.repeat(DEFAULT_MAX_DOCUMENT_BYTES + 1) })]);
          cases.push(['expectedVersion -1', () => store.update('sentinel', { id: 'keep' }, { expectedVersion: -1 })]);
          cases.push(['expectedVersion 1.5', () => store.update('sentinel', { id: 'keep' }, { expectedVersion: 1.5 })]);
          cases.push(['expectedVersion "1"', () => store.upsert('sentinel', { id: 'keep' }, { expectedVersion: '1' as unknown as number })]);
          cases.push(['delete with expectedVersion 0', () => store.delete('sentinel', 'keep', { expectedVersion: 0 })]);
          cases.push(['cursor -1', () => store.changesSince(-1)]);
          cases.push(['cursor 1.5', () => store.changesSince(1.5)]);
          cases.push(['cursor NaN', () => store.changesSince(NaN)]);
          cases.push(['limit 0', () => store.changesSince(0, { limit: 0 })]);
          cases.push(['limit 10 001', () => store.changesSince(0, { limit: 10_001 })]);
          cases.push(['an unknown query operator', () => store.find('sentinel', { filter: { v: { $where: 'x' } } } as never)]);
          cases.push(['a negative query limit', () => store.find('sentinel', { limit: -1 })]);
          cases.push(...hostileCalls(store).map(([what, call]): [string, () => Promise<unknown>] => [what, async () => call()]));
          for (const [what, run] of cases) await rejects(run, 'VALIDATION', what);
          equal(await dump(store, SENTINELS), before, 'after all the rejected calls, nothing changed');
          equal(await store.listCollections(), SENTINELS, 'no collection appeared');
          ok(({} as Record<string, unknown>).polluted === undefined, 'Object.prototype was polluted');
        }),
    },
    {
      name: 'a commit with a malformed expectation, fed to the adapter directly, is VALIDATION and writes nothing',
      run: (scope) =>
        scope.child(async (s) => {
          const adapter = await s.adapter(s.storeName('malformed-commit'));
          const now = new Date(Date.UTC(2026, 0, 1)).toISOString();
          const seeded = await adapter.commit({ now, writes: [{ collection: 'items', id: 'a', kind: 'put', body: { id: 'a', v: 1 } }] });
          ok(seeded.ok, 'a plain put commits');
          const before = { sequence: await adapter.sequence(), records: await adapter.scanCollection('items') };
          for (const [what, expect] of MALFORMED_EXPECTATIONS) {
            // A valid write first: an adapter that writes as it goes would have written it.
            const writes = [
              { collection: 'items', id: 'b', kind: 'put', body: { id: 'b' } },
              { collection: 'items', id: 'a', kind: 'put', body: { id: 'a', v: 2 }, expect },
            ] as unknown as WriteOp[];
            await rejects(() => adapter.commit({ now, writes }), 'VALIDATION', `adapter.commit with ${what}`);
            equal(await adapter.sequence(), before.sequence, `after the rejected commit with ${what}, the counter is unchanged`);
            equal(await adapter.scanCollection('items'), before.records, `after the rejected commit with ${what}, the documents are unchanged`);
          }
        }),
    },
    {
      name: 'hostile but allowed ids and names are stored and read back faithfully, apart from each other',
      run: (scope) =>
        scope.child(async (s) => {
          const store = await s.store(s.storeName('hostile'));
          const before = await withSentinels(store);
          const collections = ['items', ...HOSTILE_VALID_COLLECTIONS];
          for (const c of collections) {
            for (const id of HOSTILE_IDS) await store.insert(c, { nested: JSON.parse('{"__proto__":{"polluted":true}}') as object, constructor: 'x', id, c, echo: id });
          }
          for (const c of collections) {
            const found = await store.find(c);
            equal(found.length, HOSTILE_IDS.length, `find(${show(c)}) returns exactly the ${HOSTILE_IDS.length} hostile ids`);
            for (const id of HOSTILE_IDS) {
              const doc = await store.get(c, id);
              equal(doc && { id: doc.id, c: doc.c, echo: doc.echo }, { id, c, echo: id }, `get(${show(c)}, ${show(id)})`);
            }
            equal((await store.getMany(c, HOSTILE_IDS)).map((d) => d?.echo), HOSTILE_IDS, `getMany(${show(c)}) of every hostile id`);
          }
          equal(await dump(store, SENTINELS).then((d) => d.found.sentinel), before.found.sentinel, 'the sentinel document is unchanged');
          for (const id of HOSTILE_IDS) await store.delete('items', id);
          equal(await store.find('items'), [], 'every hostile id could be deleted');
          equal((await store.find('toString')).length, HOSTILE_IDS.length, 'deletes in one collection left the others alone');
          ok(({} as Record<string, unknown>).polluted === undefined, 'Object.prototype was polluted');
        }),
    },
    {
      name: 'generated ids and operations: VALIDATION with nothing written, or stored faithfully; never another error',
      run: (scope) =>
        checkProperty(
          scope,
          'bad input: generated ids',
          fc.asyncProperty(
            fc.constantFrom(...ops),
            fc.oneof(fc.constantFrom('items', ...HOSTILE_VALID_COLLECTIONS), fc.constantFrom(...INVALID_COLLECTIONS)),
            idArb,
            fc.jsonValue({ maxDepth: 2 }),
            (op, collection, id, value) =>
              scope.child(async (s) => {
                const store = await s.store(s.storeName('gen'));
                const before = await withSentinels(store);
                const validCollection = typeof collection === 'string' && /^[A-Za-z][A-Za-z0-9_-]{0,63}$/.test(collection);
                const valid = validCollection && (op === 'find' || op === 'changes' || validId(id));
                const seeded = valid && (op === 'update' || op === 'delete') ? await store.insert(collection, { id, seeded: true }) : undefined;
                const seededDump = await dump(store, SENTINELS);
                let result: unknown;
                try {
                  result = await call(store, op, collection, id, { id, value });
                } catch (e) {
                  const code = (e as { code?: unknown }).code;
                  if (valid) fail(`${op} of ${show(collection)}/${show(id)} is allowed but threw ${String(code)}: ${(e as Error).message}`);
                  if (code !== 'VALIDATION') fail(`${op} of ${show(collection)}/${show(id)} threw ${String(code ?? e)} instead of VALIDATION`);
                  equal(await dump(store, SENTINELS), before, `the rejected ${op} changed something`);
                  return;
                }
                if (!valid) fail(`${op} of the forbidden ${show(collection)}/${show(id)} succeeded with ${show(result)}`);
                const c = collection as string;
                if (op === 'insert' || op === 'upsert' || op === 'update') {
                  const stored = await store.get(c, id);
                  equal(stored && userFields(stored), JSON.parse(JSON.stringify({ id, value })), `${op} of ${show(c)}/${show(id)} reads back faithfully`);
                } else if (op === 'delete') {
                  equal(await store.get(c, id), undefined, `delete of ${show(c)}/${show(id)} hid it`);
                } else {
                  equal(await dump(store, SENTINELS), seededDump, `the read ${op} changed something`);
                }
                equal(
                  (await dump(store, SENTINELS)).found,
                  (seeded ? seededDump : before).found,
                  `${op} of ${show(c)}/${show(id)} changed an unrelated document`,
                );
              }),
          ),
          { scale: 2 },
        ),
    },
    {
      name: 'a large document below the size limit is stored whole',
      run: (scope) =>
        scope.child(async (s) => {
          const store = await s.store(s.storeName('large'));
          const blob = 'é😀x'.repeat(60_000);
          const doc = await store.insert('items', { id: 'large', blob, list: Array.from({ length: 2000 }, (_, i) => ({ i })) });
          equal(await store.get('items', 'large'), doc, 'a ~0.6 MB document reads back equal');
        }),
    },
    {
      name: 'metadata passed in is never trusted',
      run: (scope) =>
        scope.child(async (s) => {
          const store = await s.store(s.storeName('metadata'));
          const doc = await store.insert('items', {
            id: 'm',
            _sync_id: 1_000_000,
            _version: 77,
            _created_at: '1999-01-01T00:00:00.000Z',
            _updated_at: '1999-01-01T00:00:00.000Z',
            _deleted: true,
            _deleted_at: '1999-01-01T00:00:00.000Z',
          });
          equal(doc._version, 1, '_version is set by the store');
          equal(doc._sync_id, await store.lastSyncId(), '_sync_id is set by the store');
          ok(doc._created_at !== '1999-01-01T00:00:00.000Z', '_created_at is set by the store');
          equal(doc._deleted, undefined, '_deleted passed in is dropped');
          ok((await store.get('items', 'm')) !== undefined, 'a document saved with _deleted: true is live');
          const saved = await store.update('items', { ...doc, _version: 1000, v: 2 });
          equal(saved._version, 2, 'a loaded document saved back as it is gets the next version, not its own _version');
        }),
    },
  ],
};
