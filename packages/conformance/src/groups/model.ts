/**
 * Model-based testing: random command sequences run against the adapter under test (through a
 * Store) and against a Store on `MemoryAdapter` (the oracle), compared after every step: the
 * same results or the same error codes, equal documents (a ticking clock on both sides makes
 * timestamps equal too), equal sync ids, equal full state.
 *
 * Small alphabets make commands collide. The names are chosen so that a backend splicing names
 * into keys without escaping mixes documents up: collection `a` id `b-c` against collection
 * `a-b` id `c` (and the same with `_`), ids with `:` and NUL.
 */
import type { Query, Store } from '@cse/core';
import fc from 'fast-check';
import { equal, outcome } from '../assert.js';
import { tickingClock } from '../context.js';
import type { Scope } from '../context.js';
import type { Group } from '../group.js';
import { checkProperty } from '../property.js';
import { edgeJsonArb } from '../fixtures.js';

export const MODEL_COLLECTIONS = ['a', 'a-b', 'a_b'] as const;
export const MODEL_IDS = ['c', 'b-c', 'b_c', 'x', 'a:b', 'x\u0000y', 'é'] as const;
/**
 * The documents commands touch: few, so that commands collide, and chosen in pairs that a key
 * spliced with `-` or `_` would confuse.
 */
export const MODEL_KEYS: readonly (readonly [string, string])[] = [
  ['a', 'x'],
  ['a', 'b-c'],
  ['a-b', 'c'],
  ['a', 'b_c'],
  ['a_b', 'c'],
  ['a-b', 'x'],
  ['a', 'x\u0000y'],
  ['a', 'a:b'],
  ['a_b', 'é'],
];

interface Model {
  readonly oracle: Store;
  /** Cursor of a reader following `changesSince`. */
  cursor: number;
}

interface Real {
  store: Store;
  /** Closes the adapter and opens the same store name again. */
  readonly reopen: () => Promise<void>;
}

type Expected = 'none' | 'right' | 'stale' | 'zero';

interface Body {
  readonly n?: number;
  readonly tag?: string;
  readonly extra?: unknown;
}

const collectionArb = fc.constantFrom(...MODEL_COLLECTIONS);
const keyArb = fc.constantFrom(...MODEL_KEYS);
const bodyArb: fc.Arbitrary<Body> = fc.record(
  {
    n: fc.integer({ min: 0, max: 3 }),
    tag: fc.constantFrom('p', 'q'),
    extra: fc.oneof(fc.jsonValue({ maxDepth: 2, depthSize: 'small' }), edgeJsonArb),
  },
  { requiredKeys: [] },
);
const expectedArb = fc.constantFrom<Expected>('none', 'right', 'stale', 'zero');

async function versionOf(oracle: Store, collection: string, id: string, expected: Expected): Promise<number | undefined> {
  if (expected === 'none') return undefined;
  if (expected === 'zero') return 0;
  const current = (await oracle.get(collection, id))?._version ?? 0;
  return expected === 'right' ? current : current + 1;
}

function opts(version: number | undefined): { expectedVersion?: number } {
  return version === undefined ? {} : { expectedVersion: version };
}

/** Runs `fn` on both stores and requires the same outcome. */
async function both<T>(m: Model, r: Real, label: string, fn: (s: Store) => Promise<T>): Promise<void> {
  const expected = await outcome(() => fn(m.oracle), `oracle ${label}`);
  const actual = await outcome(() => fn(r.store), label);
  equal(actual, expected, `${label}: the adapter's outcome differs from MemoryAdapter's`);
}

/** Compares everything observable after a step. */
async function compareState(m: Model, r: Real, label: string): Promise<void> {
  equal(await r.store.lastSyncId(), await m.oracle.lastSyncId(), `after ${label}: lastSyncId`);
  equal(await r.store.changesSince(0, { limit: 10_000 }), await m.oracle.changesSince(0, { limit: 10_000 }), `after ${label}: changesSince(0)`);
  equal(await r.store.listCollections(), await m.oracle.listCollections(), `after ${label}: listCollections()`);
  for (const c of MODEL_COLLECTIONS) {
    equal(await r.store.find(c), await m.oracle.find(c), `after ${label}: find(${JSON.stringify(c)})`);
  }
}

abstract class Cmd implements fc.AsyncCommand<Model, Real> {
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    await this.step(m, r);
    await compareState(m, r, this.toString());
  }
  abstract step(m: Model, r: Real): Promise<void>;
  abstract toString(): string;
}

const q = (v: unknown): string => JSON.stringify(v);

class Insert extends Cmd {
  constructor(
    readonly c: string,
    readonly id: string,
    readonly body: Body,
  ) {
    super();
  }
  step(m: Model, r: Real): Promise<void> {
    return both(m, r, this.toString(), (s) => s.insert(this.c, { ...this.body, id: this.id }));
  }
  toString(): string {
    return `insert(${q(this.c)}, ${q({ ...this.body, id: this.id })})`;
  }
}

class Write extends Cmd {
  constructor(
    readonly kind: 'update' | 'upsert',
    readonly c: string,
    readonly id: string,
    readonly body: Body,
    readonly expected: Expected,
  ) {
    super();
  }
  async step(m: Model, r: Real): Promise<void> {
    const v = await versionOf(m.oracle, this.c, this.id, this.expected);
    await both(m, r, `${this.toString()} [expectedVersion ${String(v)}]`, (s) => s[this.kind](this.c, { ...this.body, id: this.id }, opts(v)));
  }
  toString(): string {
    return `${this.kind}(${q(this.c)}, ${q({ ...this.body, id: this.id })}, ${this.expected} version)`;
  }
}

class Delete extends Cmd {
  constructor(
    readonly c: string,
    readonly id: string,
    readonly expected: Expected,
  ) {
    super();
  }
  async step(m: Model, r: Real): Promise<void> {
    const v = await versionOf(m.oracle, this.c, this.id, this.expected);
    await both(m, r, `${this.toString()} [expectedVersion ${String(v)}]`, (s) => s.delete(this.c, this.id, opts(v)));
  }
  toString(): string {
    return `delete(${q(this.c)}, ${q(this.id)}, ${this.expected} version)`;
  }
}

class Get extends Cmd {
  constructor(
    readonly c: string,
    readonly ids: readonly string[],
  ) {
    super();
  }
  async step(m: Model, r: Real): Promise<void> {
    for (const id of this.ids) await both(m, r, `get(${q(this.c)}, ${q(id)})`, (s) => s.get(this.c, id));
    await both(m, r, this.toString(), (s) => s.getMany(this.c, this.ids));
  }
  toString(): string {
    return `getMany(${q(this.c)}, ${q(this.ids)})`;
  }
}

class Find extends Cmd {
  constructor(
    readonly c: string,
    readonly query: Query,
  ) {
    super();
  }
  step(m: Model, r: Real): Promise<void> {
    return both(m, r, this.toString(), (s) => s.find(this.c, this.query));
  }
  toString(): string {
    return `find(${q(this.c)}, ${q(this.query)})`;
  }
}

class ChangesPage extends Cmd {
  constructor(
    readonly at: number,
    readonly limit: number,
    readonly collections: readonly string[] | undefined,
  ) {
    super();
  }
  async step(m: Model, r: Real): Promise<void> {
    const cursor = Math.floor(this.at * (await m.oracle.lastSyncId()));
    const options = { limit: this.limit, ...(this.collections ? { collections: this.collections } : {}) };
    await both(m, r, `${this.toString()} [cursor ${cursor}]`, (s) => s.changesSince(cursor, options));
  }
  toString(): string {
    return `changesSince(${this.at.toFixed(2)} × lastSyncId, { limit: ${this.limit}${this.collections ? `, collections: ${q(this.collections)}` : ''} })`;
  }
}

class Follow extends Cmd {
  constructor(readonly limit: number) {
    super();
  }
  async step(m: Model, r: Real): Promise<void> {
    const label = `${this.toString()} [cursor ${m.cursor}]`;
    const expected = await outcome(() => m.oracle.changesSince(m.cursor, { limit: this.limit }), `oracle ${label}`);
    const actual = await outcome(() => r.store.changesSince(m.cursor, { limit: this.limit }), label);
    equal(actual, expected, `${label}: the adapter's page differs from MemoryAdapter's`);
    if (expected.ok) m.cursor = expected.value.cursor;
    else if (expected.code === 'RESET_REQUIRED') m.cursor = 0;
  }
  toString(): string {
    return `follow reader: next page (limit ${this.limit})`;
  }
}

type TxOp =
  | { readonly kind: 'get'; readonly c: string; readonly id: string }
  | { readonly kind: 'insert'; readonly c: string; readonly id: string; readonly body: Body }
  | { readonly kind: 'update' | 'upsert'; readonly c: string; readonly id: string; readonly body: Body; readonly expected: Expected }
  | { readonly kind: 'delete'; readonly c: string; readonly id: string; readonly expected: Expected }
  | { readonly kind: 'abort' };

class Abort extends Error {}

class Transaction extends Cmd {
  constructor(readonly ops: readonly TxOp[]) {
    super();
  }
  async step(m: Model, r: Real): Promise<void> {
    // Versions are fixed before the transaction, from the oracle, so both sides run the same ops.
    const versions: (number | undefined)[] = [];
    for (const op of this.ops) {
      versions.push(op.kind === 'update' || op.kind === 'upsert' || op.kind === 'delete' ? await versionOf(m.oracle, op.c, op.id, op.expected) : undefined);
    }
    const body = async (s: Store): Promise<unknown> => {
      try {
        return await s.transaction(async (tx) => {
          const reads: unknown[] = [];
          for (const [i, op] of this.ops.entries()) {
            const v = opts(versions[i]);
            if (op.kind === 'get') reads.push(await tx.get(op.c, op.id));
            else if (op.kind === 'insert') await tx.insert(op.c, { ...op.body, id: op.id });
            else if (op.kind === 'update' || op.kind === 'upsert') await tx[op.kind](op.c, { ...op.body, id: op.id }, v);
            else if (op.kind === 'delete') await tx.delete(op.c, op.id, v);
            else throw new Abort('aborted by the transaction function');
          }
          return reads;
        });
      } catch (e) {
        if (e instanceof Abort) return 'aborted';
        throw e;
      }
    };
    await both(m, r, `${this.toString()} [versions ${q(versions)}]`, body);
  }
  toString(): string {
    return `transaction(${q(this.ops)})`;
  }
}

class Reopen extends Cmd {
  async step(_m: Model, r: Real): Promise<void> {
    await r.reopen();
  }
  toString(): string {
    return 'close and reopen the adapter';
  }
}

class Compact extends Cmd {
  constructor(readonly at: number) {
    super();
  }
  async step(m: Model, r: Real): Promise<void> {
    const through = Math.floor(this.at * (await m.oracle.lastSyncId()));
    await both(m, r, `${this.toString()} [through ${through}]`, (s) => s.compact(through));
  }
  toString(): string {
    return `compact(${this.at.toFixed(2)} × lastSyncId)`;
  }
}

/**
 * Counter durability: deletes the newest document, compacts through it (its tombstone, the
 * highest stored id, is gone), reopens, writes. An adapter that re-derives its counter at open
 * from the highest id it still stores hands out that id again.
 */
class CompactNewestReopen extends Cmd {
  constructor(readonly body: Body) {
    super();
  }
  async step(m: Model, r: Real): Promise<void> {
    const all = await m.oracle.changesSince(0, { limit: 10_000 });
    const newest = [...all.changes].reverse().find((c) => !c.deleted);
    if (newest !== undefined) await both(m, r, `delete(${q(newest.collection)}, ${q(newest.id)}) (the newest document)`, (s) => s.delete(newest.collection, newest.id));
    const through = await m.oracle.lastSyncId();
    await both(m, r, `compact(${through}) (through the newest id)`, (s) => s.compact(through));
    await r.reopen();
    equal(await r.store.lastSyncId(), through, 'after compacting the newest tombstones and reopening: lastSyncId (it never falls below the highest id ever handed out)');
    const [c, id] = newest === undefined ? ['a', 'x'] : [newest.collection, newest.id];
    await both(m, r, `upsert(${q(c)}, ${q(id)}) after the reopen`, (s) => s.upsert(c, { ...this.body, id }));
  }
  toString(): string {
    return `delete the newest document, compact through it, reopen, write ${q(this.body)}`;
  }
}

const queryArb: fc.Arbitrary<Query> = fc.record(
  {
    filter: fc.oneof(
      fc.record({ n: fc.integer({ min: 0, max: 3 }) }),
      fc.record({ n: fc.record({ $gte: fc.integer({ min: 0, max: 3 }) }) }),
      fc.record({ tag: fc.record({ $in: fc.subarray(['p', 'q', 'r']) }) }),
      fc.record({ tag: fc.record({ $exists: fc.boolean() }) }),
    ),
    sort: fc.constantFrom([{ field: 'n' }], [{ field: 'n', order: 'desc' as const }], [{ field: 'tag' }, { field: 'n', order: 'desc' as const }]),
    skip: fc.integer({ min: 0, max: 2 }),
    limit: fc.integer({ min: 1, max: 3 }),
  },
  { requiredKeys: [] },
);

const txOpArb: fc.Arbitrary<TxOp> = fc.oneof(
  keyArb.map(([c, id]) => ({ kind: 'get' as const, c, id })),
  fc.tuple(keyArb, bodyArb).map(([[c, id], body]) => ({ kind: 'insert' as const, c, id, body })),
  fc.tuple(fc.constantFrom('update' as const, 'upsert' as const), keyArb, bodyArb, expectedArb).map(([kind, [c, id], body, expected]) => ({ kind, c, id, body, expected })),
  fc.tuple(keyArb, expectedArb).map(([[c, id], expected]) => ({ kind: 'delete' as const, c, id, expected })),
  { arbitrary: fc.constant({ kind: 'abort' as const }), weight: 1 },
);

/** The command arbitraries; `Reopen` only for persistent adapters, `Compact` only with compaction. */
export function modelCommands(caps: { persistent: boolean; compaction: boolean }): fc.Arbitrary<fc.AsyncCommand<Model, Real>>[] {
  const at = fc.double({ min: 0, max: 1, noNaN: true });
  type Weighted = { arbitrary: fc.Arbitrary<fc.AsyncCommand<Model, Real>>; weight: number };
  const weighted: (Weighted | fc.Arbitrary<fc.AsyncCommand<Model, Real>>)[] = [
    { arbitrary: fc.tuple(keyArb, bodyArb).map(([[c, id], b]) => new Insert(c, id, b)), weight: 3 },
    { arbitrary: fc.tuple(fc.constantFrom('update' as const, 'upsert' as const), keyArb, bodyArb, expectedArb).map(([k, [c, id], b, e]) => new Write(k, c, id, b, e)), weight: 3 },
    { arbitrary: fc.tuple(keyArb, expectedArb).map(([[c, id], e]) => new Delete(c, id, e)), weight: 2 },
    fc.tuple(collectionArb, fc.subarray([...MODEL_IDS], { minLength: 1, maxLength: 3 })).map(([c, ids]) => new Get(c, ids)),
    fc.tuple(collectionArb, queryArb).map(([c, query]) => new Find(c, query)),
    fc.tuple(at, fc.integer({ min: 1, max: 5 }), fc.option(fc.subarray([...MODEL_COLLECTIONS], { minLength: 1 }), { nil: undefined })).map(
      ([a, l, cs]) => new ChangesPage(a, l, cs),
    ),
    fc.integer({ min: 1, max: 4 }).map((l) => new Follow(l)),
    fc.array(txOpArb, { minLength: 1, maxLength: 5 }).map((ops) => new Transaction(ops)),
  ];
  if (caps.persistent) weighted.push({ arbitrary: fc.constant(new Reopen()), weight: 2 });
  if (caps.compaction) weighted.push({ arbitrary: at.map((a) => new Compact(a)), weight: 2 });
  if (caps.persistent && caps.compaction) weighted.push({ arbitrary: bodyArb.map((b) => new CompactNewestReopen(b)), weight: 3 });
  // fc.commands picks uniformly among its arbitraries: repeat an entry to give it weight.
  return weighted.flatMap((w) => ('weight' in w ? Array.from({ length: w.weight }, () => w.arbitrary) : [w]));
}

/** Runs one command sequence against a fresh store of the adapter and a fresh oracle. */
export async function runModel(scope: Scope, cmds: Iterable<fc.AsyncCommand<Model, Real>>): Promise<void> {
  await scope.child(async (s) => {
    const name = s.storeName('model');
    const clock = tickingClock();
    const store = await s.store(name, { clock });
    const real: Real = {
      store,
      reopen: async () => {
        await s.closeOne(real.store);
        real.store = await s.store(name, { clock });
      },
    };
    const model: Model = { oracle: s.oracle({ clock: tickingClock() }), cursor: 0 };
    await compareState(model, real, 'opening a new store');
    await fc.asyncModelRun(() => ({ model, real }), cmds);
  });
}

export const modelGroupDef: Group = {
  id: 'model',
  title: 'Model: random command sequences against MemoryAdapter',
  checks: [
    {
      name: 'every step gives the same results, errors, documents and sync ids as the oracle',
      run: async (scope) => {
        const commands = fc.commands(modelCommands(scope.caps), {
          maxCommands: 30,
          size: 'medium',
          ...(scope.settings.commandsPath !== undefined ? { replayPath: scope.settings.commandsPath } : {}),
        });
        await checkProperty(
          scope,
          'model-based: commands against the adapter and MemoryAdapter',
          fc.asyncProperty(commands, (cmds) => runModel(scope, cmds)),
          { scale: 2 },
        );
      },
    },
  ],
};

