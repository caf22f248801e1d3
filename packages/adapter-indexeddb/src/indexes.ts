import type { IDBPDatabase, IDBPTransaction } from 'idb';
import type { IndexProbe, IndexSpec, StoredRecord } from '@cse/core';
import { indexEntry, indexKey, indexKeyRange } from '@cse/core';
import type { CseSchema } from './schema.js';
import { DOCS, IDX, INDEXES } from './schema.js';

/**
 * Secondary indexes in two object stores of the same database (schema version 2): `indexes`
 * holds the declarations (`[collection, field]`), `idx` the entries
 * (`[collection, field, indexKey(entry, id)]` → id). Not IndexedDB's own indexes: creating one
 * of those needs a version change, which every open tab would have to close for. Keys compare
 * element by element and strings by UTF-16 code unit; core's encoding holds no surrogate, so
 * that is `compareJson` order.
 *
 * Every commit's `readwrite` transaction also covers both stores: it reads the declarations and
 * moves the entries of the records it writes, so entries and records commit together, also
 * between tabs. `createIndex` is one transaction: the build is atomic.
 */
type Db = IDBPDatabase<CseSchema>;
type Tx = IDBPTransaction<CseSchema, ('docs' | 'meta' | 'indexes' | 'idx')[], 'readwrite'>;

/** An array sorts above every string: `[c, ABOVE]` bounds all of collection `c`. */
const ABOVE: [] = [];

function declaredRange(collection: string): IDBKeyRange {
  return IDBKeyRange.bound([collection], [collection, ABOVE]);
}

/** The fields of `collection` that have an index, read in `tx`. */
export async function declaredFields(tx: Tx, collections: readonly string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  const wanted = [...new Set(collections)];
  const keys = await Promise.all(wanted.map((c) => tx.objectStore(INDEXES).getAllKeys(declaredRange(c))));
  wanted.forEach((c, i) => {
    const fields = (keys[i] ?? []).map((k) => k[1]);
    if (fields.length > 0) out.set(c, fields);
  });
  return out;
}

/** The requests that move the entries of each written record from its previous state. */
export function moveEntries(tx: Tx, declared: Map<string, string[]>, prevs: readonly (StoredRecord | undefined)[], records: readonly StoredRecord[]): Promise<unknown>[] {
  if (declared.size === 0) return [];
  const idx = tx.objectStore(IDX);
  const prevById = new Map<string, StoredRecord>();
  for (const p of prevs) if (p !== undefined) prevById.set(`${p.collection}\u0000${p.id}`, p);
  const requests: Promise<unknown>[] = [];
  for (const next of records) {
    const prev = prevById.get(`${next.collection}\u0000${next.id}`);
    for (const field of declared.get(next.collection) ?? []) {
      const before = prev && !prev.deleted ? indexEntry(prev.doc, field) : undefined;
      const after = next.deleted ? undefined : indexEntry(next.doc, field);
      if (before === after) continue;
      if (before !== undefined) requests.push(idx.delete([next.collection, field, indexKey(before, next.id)]));
      if (after !== undefined) requests.push(idx.put(next.id, [next.collection, field, indexKey(after, next.id)]));
    }
  }
  return requests;
}

/** Declares and fills an index in one transaction. */
export async function createIndex(db: Db, durability: IDBTransactionDurability, collection: string, field: string): Promise<void> {
  const tx = db.transaction([DOCS, INDEXES, IDX], 'readwrite', { durability });
  const work = (async () => {
    if ((await tx.objectStore(INDEXES).get([collection, field])) !== undefined) return;
    const records = await tx.objectStore(DOCS).index('byCollection').getAll(IDBKeyRange.bound([collection], [collection, ABOVE]));
    const idx = tx.objectStore(IDX);
    const puts: Promise<unknown>[] = [tx.objectStore(INDEXES).put(true, [collection, field])];
    for (const r of records) {
      const entry = r.deleted ? undefined : indexEntry(r.doc, field);
      if (entry !== undefined) puts.push(idx.put(r.id, [collection, field, indexKey(entry, r.id)]));
    }
    await Promise.all(puts);
  })();
  await Promise.all([work, tx.done]);
}

export async function dropIndex(db: Db, durability: IDBTransactionDurability, collection: string, field: string): Promise<void> {
  const tx = db.transaction([INDEXES, IDX], 'readwrite', { durability });
  await Promise.all([
    tx.objectStore(INDEXES).delete([collection, field]),
    tx.objectStore(IDX).delete(IDBKeyRange.bound([collection, field, ''], [collection, field, ABOVE])),
    tx.done,
  ]);
}

export async function listIndexes(db: Db): Promise<IndexSpec[]> {
  return (await db.getAllKeys(INDEXES)).map(([collection, field]) => ({ collection, field }));
}

/** The records of the first indexed probe's matches, in one read transaction. */
export async function findIndexed(db: Db, collection: string, probes: readonly IndexProbe[]): Promise<StoredRecord[] | undefined> {
  const tx = db.transaction([INDEXES, IDX, DOCS], 'readonly');
  const work = (async () => {
    const fields = new Set((await tx.objectStore(INDEXES).getAllKeys(declaredRange(collection))).map((k) => k[1]));
    const probe = probes.find((p) => fields.has(p.field));
    if (probe === undefined) return undefined;
    const ranges = probe.selectors.map(indexKeyRange).filter((r) => r.gte < r.lt);
    const idLists = await Promise.all(ranges.map((r) => tx.objectStore(IDX).getAll(IDBKeyRange.bound([collection, probe.field, r.gte], [collection, probe.field, r.lt], false, true))));
    const docs = await Promise.all(idLists.flat().map((id) => tx.objectStore(DOCS).get([collection, id])));
    return docs.filter((r): r is StoredRecord => r !== undefined);
  })();
  const [result] = await Promise.all([work, tx.done]);
  return result;
}
