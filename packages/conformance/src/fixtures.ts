/**
 * Shared pieces of the groups: document generators, write generators, full-state dumps, and an
 * instrumented adapter wrapper for concurrency checks.
 */
import type { Change, CommitRequest, DocKey, StorageAdapter, Store } from '@cse/core';
import fc from 'fast-check';
import { equal, ok, show } from './assert.js';

/** Collections and ids small enough that writes collide. */
export const COLLECTIONS = ['a', 'a-b', 'a_b'] as const;
export const IDS = ['c', 'b-c', 'b_c', 'x', 'a:b'] as const;

export const collectionArb = fc.constantFrom(...COLLECTIONS);
export const idArb = fc.constantFrom(...IDS);

/** Small user bodies (no `id`, no `_` keys). */
export const smallBodyArb = fc.record(
  { n: fc.integer({ min: 0, max: 3 }), tag: fc.constantFrom('p', 'q'), data: fc.jsonValue({ maxDepth: 1 }) },
  { requiredKeys: [] },
);

/** One write of a plain sequence (no expected versions). */
export type PlainWrite =
  | { readonly kind: 'insert' | 'upsert' | 'update'; readonly c: string; readonly id: string; readonly body: Record<string, unknown> }
  | { readonly kind: 'delete'; readonly c: string; readonly id: string };

export const plainWriteArb: fc.Arbitrary<PlainWrite> = fc.oneof(
  fc.record({ kind: fc.constantFrom('insert' as const, 'upsert' as const, 'update' as const), c: collectionArb, id: idArb, body: smallBodyArb }),
  fc.record({ kind: fc.constant('delete' as const), c: collectionArb, id: idArb }),
);

/** Applies a write; NOT_FOUND / CONFLICT are expected outcomes and returned as codes. */
export async function applyWrite(store: Store, w: PlainWrite): Promise<{ ok: true; syncId: number; version: number } | { ok: false; code: string }> {
  try {
    const doc = w.kind === 'delete' ? await store.delete(w.c, w.id) : await store[w.kind](w.c, { ...w.body, id: w.id });
    return { ok: true, syncId: doc._sync_id, version: doc._version };
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (code === 'NOT_FOUND' || code === 'CONFLICT') return { ok: false, code };
    throw e;
  }
}

/** Everything observable about a store's application data. */
export interface Dump {
  readonly lastSyncId: number;
  readonly changes: Change[];
  readonly found: Record<string, unknown[]>;
}

export async function dump(store: Store, collections: readonly string[] = COLLECTIONS): Promise<Dump> {
  const found: Record<string, unknown[]> = {};
  for (const c of collections) found[c] = await store.find(c);
  return { lastSyncId: await store.lastSyncId(), changes: await drain(store, 0), found };
}

/** Reads every change after `cursor`, page by page. */
export async function drain(store: Store, cursor: number, limit = 1000): Promise<Change[]> {
  const out: Change[] = [];
  let at = cursor;
  for (let i = 0; i < 100_000; i++) {
    const page = await store.changesSince(at, { limit });
    out.push(...page.changes);
    at = page.cursor;
    if (!page.hasMore) return out;
  }
  throw new Error('changesSince never stopped reporting hasMore');
}

/** Checks the invariants of one page. */
export function checkPage(page: { changes: readonly Change[]; cursor: number; hasMore: boolean }, cursor: number, limit: number, what: string): void {
  ok(page.changes.length <= limit, `${what}: a page of limit ${limit} held ${page.changes.length} changes`);
  let prev = cursor;
  for (const c of page.changes) {
    ok(c.syncId > prev, `${what}: changes must be ascending and after the cursor ${cursor}; got ${show(page.changes.map((x) => x.syncId))}`);
    equal(c.doc._sync_id, c.syncId, `${what}: change.syncId equals doc._sync_id`);
    prev = c.syncId;
  }
  const expected = page.changes.length === 0 ? cursor : (page.changes[page.changes.length - 1] as Change).syncId;
  equal(page.cursor, expected, `${what}: the page cursor is the highest sync id of the page (or the given cursor when empty); it never jumps past what was read`);
  if (page.hasMore) ok(page.changes.length === limit, `${what}: hasMore on a page that is not full`);
}

/** One event of an instrumented adapter. */
export interface AdapterEvent {
  readonly call: number;
  readonly method: string;
  readonly phase: 'begin' | 'end';
  /** For a commit's end: the sync ids it took (empty when it failed a precondition). */
  readonly syncIds?: readonly number[];
}

/**
 * Wraps an adapter so that every call is logged (begin, end) and, with a scheduler, both the
 * start and the resolution of every call are scheduled: fast-check then explores the orders in
 * which concurrent calls begin and finish.
 */
export function instrument(adapter: StorageAdapter, log: AdapterEvent[], scheduler?: fc.Scheduler): StorageAdapter {
  let calls = 0;
  const wrap =
    <A extends unknown[], T>(method: string, fn: (...args: A) => Promise<T>) =>
    async (...args: A): Promise<T> => {
      const call = ++calls;
      if (scheduler) await scheduler.schedule(Promise.resolve(), `${method}#${call} begins`);
      log.push({ call, method, phase: 'begin' });
      const result = await fn(...args);
      const out = scheduler ? await scheduler.schedule(Promise.resolve(result), `${method}#${call} resolves`) : result;
      const records = method === 'commit' ? (result as { ok: boolean; records?: { syncId: number }[] }) : undefined;
      log.push({ call, method, phase: 'end', ...(records ? { syncIds: records.ok ? (records.records ?? []).map((r) => r.syncId) : [] } : {}) });
      return out;
    };
  const wrapped: StorageAdapter = {
    capabilities: adapter.capabilities,
    commit: wrap('commit', (r: CommitRequest) => adapter.commit(r)),
    getMany: wrap('getMany', (keys: readonly DocKey[]) => adapter.getMany(keys)),
    scanCollection: wrap('scanCollection', (c: string) => adapter.scanCollection(c)),
    changes: wrap('changes', (after: number, o: { readonly limit: number; readonly collections?: readonly string[] }) => adapter.changes(after, o)),
    listCollections: wrap('listCollections', () => adapter.listCollections()),
    sequence: wrap('sequence', () => adapter.sequence()),
    close: () => adapter.close(),
  };
  const compact = adapter.compact?.bind(adapter);
  return compact ? { ...wrapped, compact: wrap('compact', (t: number) => compact(t)) } : wrapped;
}

/**
 * Checks the log of commits: ids unique, and a commit that finished before another began has
 * smaller ids (real-time commit order).
 */
export function checkCommitOrder(log: readonly AdapterEvent[], what: string): void {
  const begins = new Map<number, number>();
  const commits: { call: number; begin: number; end: number; ids: readonly number[] }[] = [];
  log.forEach((e, i) => {
    if (e.method !== 'commit') return;
    if (e.phase === 'begin') begins.set(e.call, i);
    else if (e.syncIds && e.syncIds.length > 0) commits.push({ call: e.call, begin: begins.get(e.call) ?? 0, end: i, ids: e.syncIds });
  });
  const seen = new Set<number>();
  for (const c of commits) {
    for (let k = 1; k < c.ids.length; k++) {
      ok((c.ids[k] as number) > (c.ids[k - 1] as number), `${what}: ids within one commit must increase, got ${show(c.ids)}`);
    }
    for (const id of c.ids) {
      ok(!seen.has(id), `${what}: sync id ${id} was handed out twice`);
      seen.add(id);
    }
  }
  for (const a of commits) {
    for (const b of commits) {
      if (a.end < b.begin) {
        ok(
          Math.max(...a.ids) < Math.min(...b.ids),
          `${what}: commit #${a.call} (ids ${show(a.ids)}) finished before commit #${b.call} began, yet got ids not below its ids ${show(b.ids)}`,
        );
      }
    }
  }
}

/** Deep-freezes a value (so any mutation by the Store throws). */
export function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
  }
  return v;
}

/**
 * Strings a backend gets wrong most often: lone surrogates (JSON escapes them), NUL, the empty
 * string, combining marks, astral characters, separators that key schemes use.
 */
export const EDGE_STRINGS = ['', '\u0000', 'a\u0000b', '\uD800', 'x\uDC00y', '\uDBFF\uDFFF', 'é', 'e\u0301', '😀', '\u2028', ':', '/', '%00', '"', '\\'] as const;

/** A string that is often an edge case and otherwise any string (lone surrogates included). */
export const edgeStringArb: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...EDGE_STRINGS),
  fc.string({ unit: 'binary', maxLength: 8 }),
  fc.tuple(fc.constantFrom(...EDGE_STRINGS), fc.string({ maxLength: 3 }), fc.constantFrom(...EDGE_STRINGS)).map(([a, b, c]) => a + b + c),
);

/** Numbers at the edges: -0 (JSON gives 0), beyond 2^53, the largest and smallest doubles. */
export const EDGE_NUMBERS = [-0, 0, 2 ** 53 + 2, -(2 ** 53) - 2, Number.MAX_VALUE, Number.MIN_VALUE, 1e21, 0.1 + 0.2, -1.5e-300] as const;

const edgeKeyArb = fc.constantFrom('k', '', '0', '1', '10', 'é', 'a\u0000b', '\uD800', 'z', 'a');

function nest(leaf: unknown, depth: number): unknown {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = i % 2 === 0 ? [v] : { d: v };
  return v;
}

/**
 * JSON values that reach the edges often: empty arrays and objects, -0, large numbers, lone
 * surrogates and NUL in strings and keys, keys in orders a backend might change (`'1'` before
 * `'0'`), and nesting down to 60 levels (the Store allows 64).
 */
const edgeTreeArb: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.oneof(fc.constant([]), fc.constant({}), fc.constantFrom(...EDGE_NUMBERS), edgeStringArb, fc.boolean(), fc.constant(null), fc.double({ noNaN: true, noDefaultInfinity: true })),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.uniqueArray(fc.tuple(edgeKeyArb, tie('value')), { maxLength: 4, selector: ([k]) => k }).map((entries) => Object.fromEntries(entries)),
  ),
})).value;

export const edgeJsonArb: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: edgeTreeArb, weight: 4 },
  // Deep nesting only at the top, so that a document stays within the Store's 64 levels.
  { arbitrary: fc.tuple(fc.constantFrom([], {}, -0, '\uD800', 'x'), fc.integer({ min: 20, max: 60 })).map(([leaf, depth]) => nest(leaf, depth)), weight: 1 },
);

/** Ids at the longest the Store accepts (1024 UTF-16 units), in 1-, 2-, 3-byte and astral characters. */
export const MAX_LENGTH_IDS: readonly (readonly [string, string])[] = [
  ['1-byte (ASCII)', 'a'.repeat(1024)],
  ['2-byte (é)', 'é'.repeat(1024)],
  ['3-byte (€)', '€'.repeat(1024)],
  ['surrogate pairs (😀)', '😀'.repeat(512)],
  ['mixed, NUL included', `\u0000é€😀`.repeat(204) + 'abcd'],
];

/** Long ids: a character class and a length at or near the limit. */
export const longIdArb: fc.Arbitrary<string> = fc
  .tuple(fc.constantFrom('a', 'é', '€', '😀', '\u0000', '-'), fc.integer({ min: 1000, max: 1024 }))
  .map(([ch, units]) => ch.repeat(Math.floor(units / ch.length)));
