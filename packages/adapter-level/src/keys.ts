import { assertCollectionName, assertId } from '@cse/core';

/**
 * Key layout of one store (inside its sublevel, if any). All keys are UTF-8 strings.
 *
 * | key | value | used by |
 * |---|---|---|
 * | `d!<collection>!<id>` | the document as JSON | `getMany`, `commit`, `scanCollection` (range `d!<collection>!` .. `d!<collection>"`) |
 * | `s!<syncId, 16 digits>` | `[collection, id, deleted]` as JSON | `changes` (one range scan `gt s!<after>`), `compact` |
 * | `m!last` | the counter, decimal | `commit`, `sequence` |
 * | `m!compacted` | the compaction watermark, decimal | `compact`, `sequence` |
 *
 * Why no two (collection, id) pairs can meet, whatever the id holds:
 * - Collection names are checked against `ADAPTER_COLLECTION_NAME` (letters, digits, `_`, `-`),
 *   so they never hold `!`. The first `!` after `d!` therefore ends the collection, and the id
 *   is the whole rest of the key: it needs no escaping, since nothing follows it. `!`, NUL,
 *   `\xff` or any other character inside an id is just part of the id.
 * - A collection range is the set of keys starting with `d!<collection>!`; because that prefix
 *   is ASCII and ends in `!`, it is exactly the interval up to `d!<collection>"` both in UTF-8
 *   byte order (classic-level) and in UTF-16 code-unit order (memory-level). `d!ab!` and
 *   `d!a!b...` are different prefixes, so a collection never reaches into another.
 * - Ids with lone surrogates are refused (`assertId`): UTF-8 cannot carry them, so two such ids
 *   would be stored under one key.
 * - The index key is fixed-width decimal, so string order is numeric order up to
 *   `Number.MAX_SAFE_INTEGER` (16 digits).
 * - Sublevels (namespaces) prefix keys with `!<name>!`; no key here starts with `!`, so the
 *   root store and a namespaced store on one database never share a key.
 */

const SYNC_WIDTH = 16;

export const COUNTER_KEY = 'm!last';
export const WATERMARK_KEY = 'm!compacted';
/** Set while the store is known damaged (see `LevelAdapter`'s integrity check at open). */
export const CORRUPT_KEY = 'm!corrupt';
/** Bounds of all document keys (for `listCollections`). */
export const DOCS_RANGE: { readonly gt: string; readonly lt: string } = { gt: 'd!', lt: 'd"' };

/** Throws `VALIDATION` unless the pair can be stored. */
export function assertDocKey(collection: string, id: string): void {
  assertCollectionName(collection, true);
  assertId(id);
}

export function docKey(collection: string, id: string): string {
  return `d!${collection}!${id}`;
}

/** The range of one collection's documents; `collection` must be valid (`assertCollectionName`). */
export function collectionRange(collection: string): { gte: string; lt: string } {
  return { gte: `d!${collection}!`, lt: `d!${collection}"` };
}

/** The collection of a document key. */
export function collectionOfDocKey(key: string): string {
  return key.slice(2, key.indexOf('!', 2));
}

/** Where to seek to skip the rest of `collection`'s documents. */
export function afterCollection(collection: string): string {
  return `d!${collection}"`;
}

export function syncKey(syncId: number): string {
  if (!Number.isSafeInteger(syncId) || syncId < 0) throw new RangeError(`sync id ${syncId} is out of range`);
  return `s!${String(syncId).padStart(SYNC_WIDTH, '0')}`;
}

/** Index keys above `after` (any number: negative, fractional, huge). */
export function syncRangeAfter(after: number): { gt: string; lt: string } {
  const floor = Number.isNaN(after) ? 0 : Math.floor(after);
  if (floor < 0) return { gt: 's!', lt: 's"' };
  if (floor >= Number.MAX_SAFE_INTEGER) return { gt: 's"', lt: 's"' };
  return { gt: syncKey(floor), lt: 's"' };
}

/** Index keys up to and including `through`. */
export function syncRangeThrough(through: number): { gt: string; lte: string } | undefined {
  const floor = Math.min(Math.floor(through), Number.MAX_SAFE_INTEGER);
  if (!(floor >= 1)) return undefined;
  return { gt: 's!', lte: syncKey(floor) };
}

/** What the index stores for one sync id. */
export interface IndexEntry {
  readonly collection: string;
  readonly id: string;
  readonly deleted: boolean;
}

export function encodeIndexEntry(entry: IndexEntry): string {
  return JSON.stringify([entry.collection, entry.id, entry.deleted]);
}

export function decodeIndexEntry(value: string): IndexEntry {
  const [collection, id, deleted] = JSON.parse(value) as [string, string, boolean];
  return { collection, id, deleted };
}
