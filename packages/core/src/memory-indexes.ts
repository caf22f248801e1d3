import type { StoredRecord } from './adapter.js';
import type { IndexSelector, IndexSpec } from './indexes.js';
import { indexEntry, indexKey, indexKeyRange, indexKeySuffix } from './indexes.js';

function lowerBound(keys: readonly string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((keys[mid] as string) < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Indexes kept in process memory: one sorted array of keys (`indexKey(entry, id)`) per declared
 * index. For adapters whose records live in memory (`MemoryAdapter`, test adapters): call
 * `update` inside the same synchronous stretch that stores a record, so records and entries
 * change together.
 */
export class MemoryIndexes {
  /** `collection` → field → sorted keys. */
  readonly #indexes = new Map<string, Map<string, string[]>>();

  /** Every declared index, sorted by collection then field. */
  list(): IndexSpec[] {
    const out: IndexSpec[] = [];
    for (const [collection, fields] of this.#indexes) for (const field of fields.keys()) out.push({ collection, field });
    return out.sort((a, b) => (a.collection === b.collection ? (a.field < b.field ? -1 : 1) : a.collection < b.collection ? -1 : 1));
  }

  has(collection: string, field: string): boolean {
    return this.#indexes.get(collection)?.has(field) === true;
  }

  /** Declares an index and builds it from `records` (the collection's current records). No-op if it exists. */
  create(collection: string, field: string, records: Iterable<StoredRecord>): void {
    let fields = this.#indexes.get(collection);
    if (fields === undefined) this.#indexes.set(collection, (fields = new Map()));
    if (fields.has(field)) return;
    const keys: string[] = [];
    for (const r of records) {
      const entry = r.deleted ? undefined : indexEntry(r.doc, field);
      if (entry !== undefined) keys.push(indexKey(entry, r.id));
    }
    fields.set(field, keys.sort());
  }

  drop(collection: string, field: string): void {
    const fields = this.#indexes.get(collection);
    fields?.delete(field);
    if (fields?.size === 0) this.#indexes.delete(collection);
  }

  /** Moves the entries of one document from its record `prev` to `next` (either may be absent). */
  update(prev: StoredRecord | undefined, next: StoredRecord | undefined): void {
    const record = next ?? prev;
    if (record === undefined) return;
    const fields = this.#indexes.get(record.collection);
    if (fields === undefined) return;
    for (const [field, keys] of fields) {
      const before = prev && !prev.deleted ? indexEntry(prev.doc, field) : undefined;
      const after = next && !next.deleted ? indexEntry(next.doc, field) : undefined;
      if (before === after) continue;
      if (before !== undefined) {
        const key = indexKey(before, record.id);
        const at = lowerBound(keys, key);
        if (keys[at] === key) keys.splice(at, 1);
      }
      if (after !== undefined) {
        const key = indexKey(after, record.id);
        const at = lowerBound(keys, key);
        if (keys[at] !== key) keys.splice(at, 0, key);
      }
    }
  }

  /** Ids of the documents with an entry in any of `selectors`, or `undefined` when `field` is not indexed. */
  lookup(collection: string, field: string, selectors: readonly IndexSelector[]): string[] | undefined {
    const keys = this.#indexes.get(collection)?.get(field);
    if (keys === undefined) return undefined;
    const ids: string[] = [];
    for (const s of selectors) {
      const { gte, lt } = indexKeyRange(s);
      for (let i = lowerBound(keys, gte); i < keys.length && (keys[i] as string) < lt; i++) ids.push(indexKeySuffix(keys[i] as string));
    }
    return ids;
  }
}
