/**
 * How `find` reads: from an index when the adapter has one that answers a condition of the
 * query (see `indexes.ts` for the probes), otherwise by scanning the collection; the whole
 * query is then applied to what was read, so both give the same answer.
 */
import type { JsonObject, StorageAdapter, StoredRecord } from './adapter.js';
import { UnsupportedError } from './errors.js';
import { planIndexProbes } from './indexes.js';
import type { CompiledQuery } from './query.js';
import { runQuery } from './query.js';
import type { StoreContext } from './store-context.js';

/** The live documents of `collection` that match `compiled`. */
export async function findDocuments(ctx: StoreContext, collection: string, compiled: CompiledQuery): Promise<JsonObject[]> {
  const indexed = await findIndexed(ctx, collection, compiled);
  const records = indexed ?? (await ctx.call('find failed', () => ctx.adapter.scanCollection(collection)));
  return runQuery(
    records.filter((r) => !r.deleted).map((r) => r.doc),
    compiled,
  );
}

/** Candidates from an index (every match among them, duplicates dropped), or `undefined` to scan. */
async function findIndexed(ctx: StoreContext, collection: string, compiled: CompiledQuery): Promise<StoredRecord[] | undefined> {
  const adapter = ctx.adapter;
  const lookup = adapter.findIndexed?.bind(adapter);
  if (!adapter.capabilities.indexes || lookup === undefined) return undefined;
  const probes = planIndexProbes(compiled);
  if (probes.length === 0) return undefined;
  const records = await ctx.call('find failed', () => lookup(collection, probes));
  if (records === undefined || records.length < 2) return records;
  const seen = new Set<string>();
  return records.filter((r) => !seen.has(r.id) && seen.add(r.id) !== undefined);
}

/** The adapter's `createIndex` or `dropIndex`, or `UNSUPPORTED` without `capabilities.indexes`. */
export function indexMember<K extends 'createIndex' | 'dropIndex'>(adapter: StorageAdapter, name: K): NonNullable<StorageAdapter[K]> {
  const member = adapter[name]?.bind(adapter);
  if (!adapter.capabilities.indexes || member === undefined) {
    throw new UnsupportedError('this adapter does not declare the "indexes" capability; find scans the collection');
  }
  return member as NonNullable<StorageAdapter[K]>;
}
