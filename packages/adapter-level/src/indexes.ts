import type { AbstractSnapshot } from 'abstract-level';
import type { IndexProbe, IndexSpec, StoredRecord } from '@cse/core';
import { indexEntry, indexKey, indexKeyRange } from '@cse/core';
import type { LevelDatabase } from './options.js';

/**
 * Secondary indexes as keys beside the documents (inside the store's sublevel, if any):
 *
 * | key | value |
 * |---|---|
 * | `x!<collection>!<field>!<indexKey(entry, id)>` | the id |
 * | `m!indexes` | the declared indexes, JSON `[[collection, field], ...]` |
 *
 * Collection names and fields never hold `!`, and `indexKey` ends every encoded value with
 * `\u0001`, so the keys of one index are one range and sort by value (see core's `indexes.ts`
 * for why UTF-8 byte order of those keys is `compareJson` order). A commit deletes the entries
 * of the records it replaces and puts the new ones in its own batch, so records and entries
 * change in one atomic write. `createIndex` is one batch too: the build is atomic.
 */
export const INDEX_LIST_KEY = 'm!indexes';

const ENC = { keyEncoding: 'utf8', valueEncoding: 'utf8' } as const;
type ReadOptions = typeof ENC & { snapshot?: AbstractSnapshot };
type BatchOp = { type: 'put'; key: string; value: string } | { type: 'del'; key: string };

function prefix(collection: string, field: string): string {
  return `x!${collection}!${field}!`;
}

/** `collection` → fields. */
export type IndexList = Map<string, Set<string>>;

function parseList(json: string | undefined): IndexList {
  const list: IndexList = new Map();
  for (const [collection, field] of JSON.parse(json ?? '[]') as [string, string][]) {
    let fields = list.get(collection);
    if (fields === undefined) list.set(collection, (fields = new Set()));
    fields.add(field);
  }
  return list;
}

function serialize(list: IndexList): string {
  return JSON.stringify([...list].flatMap(([c, fields]) => [...fields].map((f) => [c, f])));
}

/** Reads the declared indexes (from `read`'s snapshot, if any). */
export async function readIndexList(db: LevelDatabase, read: ReadOptions = ENC): Promise<IndexList> {
  return parseList(await db.get(INDEX_LIST_KEY, read));
}

export function listSpecs(list: IndexList): IndexSpec[] {
  const out: IndexSpec[] = [];
  for (const [collection, fields] of list) for (const field of fields) out.push({ collection, field });
  return out.sort((a, b) => (a.collection === b.collection ? (a.field < b.field ? -1 : 1) : a.collection < b.collection ? -1 : 1));
}

/** The batch operations that move one document's entries from `prev` to `next`. */
export function indexOps(list: IndexList, prev: StoredRecord | undefined, next: StoredRecord): BatchOp[] {
  const fields = list.get(next.collection);
  if (fields === undefined) return [];
  const ops: BatchOp[] = [];
  for (const field of fields) {
    const before = prev && !prev.deleted ? indexEntry(prev.doc, field) : undefined;
    const after = next.deleted ? undefined : indexEntry(next.doc, field);
    if (before === after) continue;
    if (before !== undefined) ops.push({ type: 'del', key: prefix(next.collection, field) + indexKey(before, next.id) });
    if (after !== undefined) ops.push({ type: 'put', key: prefix(next.collection, field) + indexKey(after, next.id), value: next.id });
  }
  return ops;
}

/** The batch that declares and fills an index from the collection's records. */
export function buildOps(list: IndexList, collection: string, field: string, records: readonly StoredRecord[]): BatchOp[] {
  const ops: BatchOp[] = [];
  for (const r of records) {
    const entry = r.deleted ? undefined : indexEntry(r.doc, field);
    if (entry !== undefined) ops.push({ type: 'put', key: prefix(collection, field) + indexKey(entry, r.id), value: r.id });
  }
  const next: IndexList = new Map([...list].map(([c, f]) => [c, new Set(f)]));
  if (!next.has(collection)) next.set(collection, new Set());
  next.get(collection)!.add(field);
  ops.push({ type: 'put', key: INDEX_LIST_KEY, value: serialize(next) });
  return ops;
}

/** The batch that removes an index and its entries. */
export async function dropOps(db: LevelDatabase, list: IndexList, collection: string, field: string): Promise<BatchOp[]> {
  const start = prefix(collection, field);
  const keys: string[] = await db.keys({ gte: start, lt: `${start.slice(0, -1)}"`, ...ENC }).all();
  const next: IndexList = new Map([...list].map(([c, f]) => [c, new Set(f)]));
  next.get(collection)?.delete(field);
  if (next.get(collection)?.size === 0) next.delete(collection);
  return [...keys.map((key): BatchOp => ({ type: 'del', key })), { type: 'put', key: INDEX_LIST_KEY, value: serialize(next) }];
}

/** Ids of the first probe's matches, from `read`'s snapshot; `undefined` when no probe's field is indexed there. */
export async function lookupIds(db: LevelDatabase, collection: string, probes: readonly IndexProbe[], read: ReadOptions): Promise<string[] | undefined> {
  const list = await readIndexList(db, read);
  const probe = probes.find((p) => list.get(collection)?.has(p.field));
  if (probe === undefined) return undefined;
  const start = prefix(collection, probe.field);
  // The ranges are independent reads of one snapshot: run them side by side.
  const ranges = probe.selectors.map(indexKeyRange).filter(({ gte, lt }) => gte < lt);
  const lists: string[][] = await Promise.all(ranges.map(({ gte, lt }) => db.values({ gte: start + gte, lt: start + lt, ...read }).all()));
  return lists.flat();
}
