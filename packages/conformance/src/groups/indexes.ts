/**
 * Indexed `find` (capability `indexes`): what `find` answers through an index equals what it
 * answers by scanning, on every adapter, across inserts, updates, deletes, tombstones,
 * multi-document commits, `insertMany` batches, compaction, indexes created before and after the data, a second
 * instance on the same store, reopen, and a writer killed with SIGKILL.
 *
 * The unindexed answer is computed from `scanCollection` with core's `runQuery`, and also
 * compared with a Store on `MemoryAdapter` (the oracle) that saw the same writes. Beside that,
 * `findIndexed` is called directly: once `createIndex` resolved it must answer (not `undefined`)
 * for a condition on the indexed field, with every matching document among what it returns.
 * Values are taken from a small set that collides often and reaches every corner of the
 * comparison rules: `null`, booleans, `-0`, integers and fractions, strings with code points
 * on both sides of the surrogate range, arrays (which `$eq` matches by element), objects, and a
 * missing field.
 */
import type { JsonObject, JsonValue, Query, Store } from '@cse/core';
import { compileQuery, getPath, planIndexProbes, runQuery } from '@cse/core';
import fc from 'fast-check';
import { equal, fail, ok, show } from '../assert.js';
import type { Scope } from '../context.js';
import type { ChildMessage } from '../child/protocol.js';
import type { Group } from '../group.js';
import { all, needs, needsChildren } from '../group.js';
import { checkProperty } from '../property.js';

const COLLECTION = 'ix';
const IDS = ['a', 'b', 'c', 'd', 'e', 'f', 'x\u0000y', 'é'] as const;
const FIELDS = ['v', 's.v'] as const;

/** Values that meet every comparison rule; `undefined` leaves the field out. */
export const INDEX_VALUES: readonly (JsonValue | undefined)[] = [
  undefined,
  null,
  true,
  false,
  0,
  -0,
  1,
  1.5,
  -2,
  1e21,
  2 ** 53 + 2,
  0.1 + 0.2,
  '',
  'a',
  'ab',
  'b',
  'é',
  '\uffff',
  '\u{1f600}',
  [1, 'a'],
  [],
  [[1]],
  { x: 1 },
];
const SCALARS = INDEX_VALUES.filter((v): v is null | boolean | number | string => v === null || ['boolean', 'number', 'string'].includes(typeof v));

const valueArb = fc.constantFrom(...INDEX_VALUES);
const scalarArb = fc.constantFrom(...SCALARS);

type Body = JsonObject & { readonly id: string };

function body(id: string, v: JsonValue | undefined, sv: JsonValue | undefined, w: number): Body {
  return { id, w, ...(v === undefined ? {} : { v }), ...(sv === undefined ? {} : { s: { v: sv } }) };
}

const docArb = fc.tuple(fc.constantFrom(...IDS), valueArb, valueArb, fc.integer({ min: 0, max: 2 })).map(([id, v, sv, w]) => body(id, v, sv, w));

/** Queries with one condition an index can answer, and often a second one, a sort, skip, limit. */
export const indexQueryArb: fc.Arbitrary<Query> = fc
  .tuple(
    fc.constantFrom(...FIELDS),
    fc.oneof(
      scalarArb,
      fc.record({ $eq: scalarArb }),
      fc.record({ $in: fc.array(scalarArb, { maxLength: 3 }) }),
      fc.record({ $gt: scalarArb }, { requiredKeys: [] }),
      fc.record({ $gte: scalarArb, $lt: scalarArb }, { requiredKeys: [] }),
      fc.record({ $gt: scalarArb, $lte: scalarArb }, { requiredKeys: [] }),
      fc.record({ $lt: scalarArb, $ne: scalarArb }, { requiredKeys: ['$lt'] }),
    ),
    fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined }),
    fc.option(fc.tuple(fc.constantFrom('v', 's.v', 'w'), fc.constantFrom<'asc' | 'desc'>('asc', 'desc')), { nil: undefined }),
    fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
    fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
  )
  .map(([field, cond, w, sort, skip, limit]) => {
    const condition = cond as JsonValue | Record<string, JsonValue>;
    const hasOps = condition !== null && typeof condition === 'object' && !Array.isArray(condition);
    return {
      // An empty operator object would be no condition: make it $exists.
      filter: { [field]: hasOps && Object.keys(condition).length === 0 ? { $exists: true } : condition, ...(w === undefined ? {} : { w: { $lte: w } }) },
      ...(sort ? { sort: [{ field: sort[0], order: sort[1] }] } : {}),
      ...(skip === undefined ? {} : { skip }),
      ...(limit === undefined ? {} : { limit }),
    } as Query;
  });

/** What `find` must answer: the live documents of a scan, through core's query engine. */
async function unindexed(store: Store, query: Query): Promise<JsonObject[]> {
  const records = await store.adapter.scanCollection(COLLECTION);
  return runQuery(
    records.filter((r) => !r.deleted).map((r) => r.doc),
    compileQuery(query),
  );
}

const userView = (docs: readonly JsonObject[]): unknown[] => docs.map((d) => [d.id, d._version, d.v, d.s, d.w]);

/** Compares `find` with the scan, the oracle and a direct `findIndexed`, for every query. */
async function checkQueries(store: Store, oracle: Store | undefined, indexed: ReadonlySet<string>, queries: readonly Query[], where: string): Promise<void> {
  for (const query of queries) {
    const got = await store.find(COLLECTION, query);
    const expected = await unindexed(store, query);
    equal(got, expected, `${where}: find(${show(query)}) through the index differs from the same query over a scan`);
    if (oracle) equal(userView(got), userView(await oracle.find(COLLECTION, query)), `${where}: find(${show(query)}) differs from the MemoryAdapter oracle`);
    const probes = planIndexProbes(compileQuery(query)).filter((p) => indexed.has(p.field));
    if (probes.length === 0) continue;
    const lookup = store.adapter.findIndexed?.bind(store.adapter);
    ok(lookup !== undefined, 'the adapter declares indexes but has no findIndexed');
    const records = await lookup(COLLECTION, probes);
    ok(records !== undefined, `${where}: findIndexed answers undefined for ${show(probes, 300)}, yet createIndex('${COLLECTION}', '${probes[0]?.field}') resolved`);
    const returned = new Set(records.filter((r) => !r.deleted).map((r) => r.id));
    const matches = runQuery(
      (await store.adapter.scanCollection(COLLECTION)).filter((r) => !r.deleted).map((r) => r.doc),
      compileQuery({ filter: query.filter ?? {} }),
    );
    for (const d of matches) {
      if (!returned.has(d.id as string)) {
        // Only a miss on the probe's own condition is a miss of the index.
        const own = compileQuery({ filter: { [probes[0]!.field]: (query.filter as Record<string, JsonValue>)[probes[0]!.field]! } });
        if (runQuery([d], own).length === 1) fail(`${where}: findIndexed(${show(probes, 300)}) leaves out ${show(d)}, which its condition matches`);
      }
    }
  }
}

/** `{ field: value }` for the scalar (or first scalar element) each document holds at each indexed field. */
function valueQueries(docs: readonly JsonObject[], indexed: ReadonlySet<string>): Query[] {
  const out: Query[] = [];
  for (const d of docs) {
    for (const field of indexed) {
      let v = getPath(d, field);
      if (Array.isArray(v)) v = v.find((x) => x === null || typeof x !== 'object');
      if (v !== undefined && (v === null || typeof v !== 'object')) out.push({ filter: { [field]: v } });
    }
  }
  return out;
}

type Command =
  | { readonly t: 'put'; readonly doc: Body; readonly via: number }
  | { readonly t: 'tx'; readonly docs: readonly Body[]; readonly del: string; readonly via: number }
  | { readonly t: 'many'; readonly docs: readonly Body[]; readonly via: number }
  | { readonly t: 'delete'; readonly id: string; readonly via: number }
  | { readonly t: 'index'; readonly field: string; readonly via: number }
  | { readonly t: 'drop'; readonly field: string }
  | { readonly t: 'compact' }
  | { readonly t: 'reopen' };

const via = fc.integer({ min: 0, max: 1 });
const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { arbitrary: fc.record({ t: fc.constant('put' as const), doc: docArb, via }), weight: 6 },
  { arbitrary: fc.record({ t: fc.constant('tx' as const), docs: fc.array(docArb, { minLength: 1, maxLength: 3 }), del: fc.constantFrom(...IDS), via }), weight: 2 },
  { arbitrary: fc.record({ t: fc.constant('delete' as const), id: fc.constantFrom(...IDS), via }), weight: 2 },
  { arbitrary: fc.record({ t: fc.constant('many' as const), docs: fc.array(docArb, { minLength: 1, maxLength: 4 }), via }), weight: 2 },
  { arbitrary: fc.record({ t: fc.constant('index' as const), field: fc.constantFrom(...FIELDS), via }), weight: 2 },
  { arbitrary: fc.record({ t: fc.constant('drop' as const), field: fc.constantFrom(...FIELDS) }), weight: 1 },
  { arbitrary: fc.record({ t: fc.constant('compact' as const) }), weight: 1 },
  { arbitrary: fc.record({ t: fc.constant('reopen' as const) }), weight: 1 },
);

async function apply(store: Store, cmd: Command): Promise<void> {
  if (cmd.t === 'put') await store.upsert(COLLECTION, cmd.doc);
  else if (cmd.t === 'delete') {
    if (await store.get(COLLECTION, cmd.id)) await store.delete(COLLECTION, cmd.id);
  } else if (cmd.t === 'many') {
    // insertMany of the documents not live now (new ones and tombstones): one commit of inserts
    const fresh: Body[] = [];
    for (const d of cmd.docs) {
      if (!fresh.some((f) => f.id === d.id) && !(await store.get(COLLECTION, d.id))) fresh.push(d);
    }
    if (fresh.length > 0) await store.insertMany(COLLECTION, fresh);
  } else if (cmd.t === 'tx') {
    await store.transaction(async (tx) => {
      const seen = new Set<string>();
      for (const d of cmd.docs) {
        if (seen.has(d.id)) continue;
        seen.add(d.id);
        await tx.upsert(COLLECTION, d);
      }
      if (!seen.has(cmd.del) && (await tx.get(COLLECTION, cmd.del))) await tx.delete(COLLECTION, cmd.del);
    });
  }
}

async function runCommands(scope: Scope, commands: readonly Command[], queries: readonly Query[]): Promise<void> {
  await scope.child(async (s) => {
    const name = s.storeName('indexes');
    const persistent = s.caps.persistent;
    // Two instances on one store when the adapter can reopen it: an index declared through one
    // must be kept by writes through the other.
    const handles: Store[] = [await s.store(name)];
    if (persistent) handles.push(await s.store(name));
    const oracle = s.oracle();
    const indexed = new Set<string>();
    for (const [step, cmd] of commands.entries()) {
      const where = `after step ${step} ${show(cmd, 200)}`;
      const handle = handles['via' in cmd ? cmd.via % handles.length : 0] as Store;
      if (cmd.t === 'index') {
        await handle.createIndex(COLLECTION, cmd.field);
        indexed.add(cmd.field);
      } else if (cmd.t === 'drop') {
        await handle.dropIndex(COLLECTION, cmd.field);
        indexed.delete(cmd.field);
      } else if (cmd.t === 'compact') {
        // Both sides drop their tombstones: a document written again after that starts over at version 1.
        if (s.caps.compaction) {
          await handle.compact(await handle.lastSyncId());
          await oracle.compact(await oracle.lastSyncId());
        }
      } else if (cmd.t === 'reopen') {
        if (!persistent) continue;
        for (const h of handles) await s.closeOne(h);
        handles.splice(0, handles.length, await s.store(name), await s.store(name));
      } else {
        await apply(handle, cmd);
        await apply(oracle, cmd);
      }
      const expected = [...indexed].sort().map((field) => ({ collection: COLLECTION, field }));
      for (const h of handles) equal(await h.listIndexes(COLLECTION), expected, `${where}: listIndexes of every instance`);
      // Beside the random queries, one for the value each written document now holds: an index
      // that missed the write cannot answer it.
      const written = cmd.t === 'put' ? [cmd.doc] : cmd.t === 'tx' || cmd.t === 'many' ? cmd.docs : [];
      await checkQueries(handles[step % handles.length] as Store, oracle, indexed, [...queries, ...valueQueries(written, indexed)], where);
    }
  });
}

// ---- crash ------------------------------------------------------------------------------------

const CHILD_TIMEOUT_MS = 60_000;

async function until(child: { until: (p: (ms: readonly ChildMessage[]) => boolean, what: string) => Promise<void> }, predicate: (ms: readonly ChildMessage[]) => boolean, what: string): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      child.until(predicate, what),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), CHILD_TIMEOUT_MS);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Every query shape over the crash child's values (`v` holds one of INDEX_VALUES' scalars or an array). */
const CRASH_QUERIES: readonly Query[] = [
  ...SCALARS.map((v) => ({ filter: { v } })),
  { filter: { v: { $in: [1, 'a', null] } } },
  { filter: { v: { $gte: 0, $lt: 2 } }, sort: [{ field: 'v', order: 'desc' as const }] },
  { filter: { v: { $gt: 'a' } } },
  { filter: { v: { $lte: true } } },
];

async function crashRound(s: Scope, name: string, tag: string, acks: number, delayMs: number): Promise<void> {
  const { spawnChild } = await import('../child/spawn.js');
  const child = await spawnChild({ mode: 'index', module: s.run.options.module as string, storeName: name, dir: await s.run.dir(), tag });
  try {
    await until(child, (ms) => ms.filter((m) => m.t === 'commit').length >= acks, `${acks} acknowledged commits of the index child`);
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
  } finally {
    child.kill();
  }
  const { signal, code } = await child.exited;
  if (signal !== 'SIGKILL') throw new Error(`the index child exited by itself (code ${String(code)}) instead of being killed:\n${child.stderr()}`);
  const acked = child.messages.filter((m): m is Extract<ChildMessage, { t: 'commit' }> => m.t === 'commit');
  const store = await s.store(name);
  equal(await store.listIndexes('ixcrash'), [{ collection: 'ixcrash', field: 'v' }], `round ${tag}: the index declared before the kill is still there`);
  const lookup = store.adapter.findIndexed?.bind(store.adapter);
  for (const query of CRASH_QUERIES) {
    const got = await store.find('ixcrash', query);
    const records = await store.adapter.scanCollection('ixcrash');
    const expected = runQuery(
      records.filter((r) => !r.deleted).map((r) => r.doc),
      compileQuery(query),
    );
    equal(got, expected, `round ${tag}, after a SIGKILL (${acked.length} commits acknowledged): find(${show(query)}) through the index differs from a scan`);
    ok((await lookup?.('ixcrash', planIndexProbes(compileQuery(query)))) !== undefined, `round ${tag}: findIndexed does not answer after the reopen`);
  }
  await s.closeOne(store);
}

export const indexesGroupDef: Group = {
  id: 'indexes',
  title: 'Indexed find',
  requires: needs('indexes'),
  checks: [
    {
      name: 'find through an index equals find over a scan (and the oracle) across writes, deletes, compaction, index changes, two instances and reopen',
      run: (scope) =>
        checkProperty(
          scope,
          'indexes: indexed find equals a scan',
          fc.asyncProperty(fc.array(commandArb, { minLength: 1, maxLength: 14 }), fc.array(indexQueryArb, { minLength: 3, maxLength: 6 }), (commands, queries) =>
            runCommands(scope, [{ t: 'index', field: 'v', via: 0 }, ...commands], queries),
          ),
          { scale: 0.8 },
        ),
    },
    {
      name: 'an index built over existing documents answers at once, with every match',
      run: (scope) =>
        scope.child(async (s) => {
          const store = await s.store(s.storeName('indexes-build'));
          const oracle = s.oracle();
          for (const [i, v] of INDEX_VALUES.entries()) {
            for (const st of [store, oracle]) await st.insert(COLLECTION, body(`d${i}`, v, INDEX_VALUES[(i * 7) % INDEX_VALUES.length], i % 3));
          }
          for (const st of [store, oracle]) await st.delete(COLLECTION, 'd3');
          await store.createIndex(COLLECTION, 'v');
          await store.createIndex(COLLECTION, 's.v');
          await store.createIndex(COLLECTION, 'v'); // idempotent
          const queries: Query[] = [
            ...SCALARS.flatMap((v): Query[] => [{ filter: { v } }, { filter: { 's.v': { $gte: v } } }, { filter: { v: { $lt: v } }, sort: [{ field: 'v' }] }]),
            { filter: { v: { $in: SCALARS } } },
          ];
          await checkQueries(store, oracle, new Set(FIELDS), queries, 'after createIndex over existing documents');
        }),
    },
    {
      name: 'a writer killed with SIGKILL leaves the index equal to its documents',
      requires: all(needs('persistent'), needs('crashSafe'), needsChildren),
      timeout: 240_000,
      run: (scope) =>
        checkProperty(
          scope,
          'indexes: SIGKILL during indexed writes',
          fc.asyncProperty(fc.array(fc.tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 3 })), { minLength: 2, maxLength: 2 }), (plan) =>
            scope.child(async (s) => {
              const name = s.storeName('indexes-crash');
              for (const [i, [acks, delayMs]] of plan.entries()) await crashRound(s, name, `r${i}`, acks, delayMs);
            }),
          ),
          { scale: 0.12, runTimeoutMs: 120_000, budgetMs: 200_000, params: { endOnFailure: true } },
        ),
    },
  ],
};
