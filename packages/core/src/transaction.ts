/**
 * How a transaction commits: reads record the version they saw, writes are buffered, and at the
 * end everything goes to the adapter as one commit with every read version as a precondition
 * (see `Store.transaction` for the guarantees).
 */
import type { DocKey, Expectation, JsonObject, StoredRecord } from './adapter.js';
import type { Doc, DocInput, WriteOptions } from './documents.js';
import { SYSTEM_KEYS, checkVersion, writeOptions } from './documents.js';
import { ConflictError, NotFoundError, ValidationError } from './errors.js';
import { assertCollectionName } from './json.js';
import type { Query } from './query.js';
import { compileQuery, runQuery } from './query.js';
import { docKeyString, meetsExpectation } from './records.js';
import type { PlannedWrite, StoreContext } from './store-context.js';

/** Reads and writes inside `Store.transaction`. */
export interface Transaction {
  get(collection: string, id: string): Promise<Doc | undefined>;
  find(collection: string, query?: Query): Promise<Doc[]>;
  insert(collection: string, doc: DocInput): Promise<void>;
  update(collection: string, doc: DocInput, options?: WriteOptions): Promise<void>;
  upsert(collection: string, doc: DocInput, options?: WriteOptions): Promise<void>;
  delete(collection: string, id: string, options?: WriteOptions): Promise<void>;
}

type Pending = { kind: 'put'; body: JsonObject } | { kind: 'delete' };

/** One document the transaction read or wrote. */
interface Entry {
  key: DocKey;
  seen: StoredRecord | undefined;
  pending?: Pending;
}

/** Runs `fn` as an optimistic transaction on the store behind `ctx` (see `Store.transaction`). */
export async function runTransaction<T>(ctx: StoreContext, fn: (tx: Transaction) => Promise<T>): Promise<T> {
  const entries = new Map<string, Entry>();
  let done = false;
  const guard = (): void => {
    if (done) throw new ValidationError('the transaction is over; use the tx object only inside its function');
  };
  const load = async (keys: DocKey[]): Promise<Entry[]> => {
    const missing = keys.filter((k) => !entries.has(docKeyString(k.collection, k.id)));
    if (missing.length > 0) {
      const records = await ctx.call('transaction read failed', () => ctx.adapter.getMany(missing));
      missing.forEach((key, i) => {
        const k = docKeyString(key.collection, key.id);
        if (!entries.has(k)) entries.set(k, { key, seen: records[i] });
      });
    }
    return keys.map((k) => entries.get(docKeyString(k.collection, k.id)) as Entry);
  };
  const liveDoc = (e: Entry): Doc | undefined => {
    if (e.pending?.kind === 'delete') return undefined;
    if (e.pending?.kind === 'put') {
      const base = e.seen && !e.seen.deleted ? e.seen.doc : {};
      return { ...e.pending.body, ...Object.fromEntries(Object.entries(base).filter(([k]) => SYSTEM_KEYS.has(k))) } as Doc;
    }
    return e.seen && !e.seen.deleted ? (structuredClone(e.seen.doc) as Doc) : undefined;
  };
  const isLive = (e: Entry): boolean => liveDoc(e) !== undefined;
  const currentVersion = (e: Entry): number | undefined => (e.pending ? undefined : e.seen && !e.seen.deleted ? e.seen.version : undefined);
  const checkExpected = (e: Entry, expected: number | undefined): void => {
    if (expected === undefined) return;
    const ok = expected === 0 ? !isLive(e) : currentVersion(e) === expected;
    if (!ok) {
      throw new ConflictError(`${e.key.collection}/${JSON.stringify(e.key.id)}: expected version ${expected}`, liveDoc(e), { details: { ...e.key } });
    }
  };
  // Every operation's promise, awaited by the caller or not: a failed one fails the
  // transaction, so an un-awaited insert that was invalid cannot be dropped while the rest
  // commits (and its rejection is handled here, not reported as unhandled).
  const started: Promise<unknown>[] = [];
  let failure: { error: unknown } | undefined;
  const track = <R>(p: Promise<R>): Promise<R> => {
    started.push(p);
    p.catch((error: unknown) => {
      failure ??= { error };
    });
    return p;
  };
  const ops: Transaction = {
    get: async (collection, id) => {
      guard();
      const [e] = await load([ctx.key(collection, id)]);
      return liveDoc(e as Entry);
    },
    find: async (collection, query) => {
      guard();
      assertCollectionName(collection);
      const compiled = compileQuery(query);
      const records = await ctx.call('transaction find failed', () => ctx.adapter.scanCollection(collection));
      // Documents this transaction already touched are seen as it left them; the rest as stored.
      const fresh = new Map<string, StoredRecord>();
      for (const r of records) if (!entries.has(docKeyString(collection, r.id))) fresh.set(r.id, r);
      const docs: JsonObject[] = [];
      for (const r of fresh.values()) if (!r.deleted) docs.push(r.doc);
      for (const e of entries.values()) {
        const doc = e.key.collection === collection ? liveDoc(e) : undefined;
        if (doc) docs.push(doc);
      }
      const hits = runQuery(docs, compiled);
      // Only the returned documents become part of the read set (see the note on phantoms).
      for (const d of hits) {
        const r = fresh.get(d.id as string);
        if (r !== undefined) entries.set(docKeyString(collection, r.id), { key: { collection, id: r.id }, seen: r });
      }
      return hits.map((d) => structuredClone(d)) as Doc[];
    },
    insert: async (collection, doc) => {
      guard();
      const body = ctx.body(collection, doc);
      const id = body.id as string;
      const k = docKeyString(collection, id);
      const known = entries.get(k);
      if (known === undefined) {
        // Not read yet: no need to read now. The commit expects absence, so an id that is
        // taken still fails the transaction with CONFLICT (at commit instead of here), and a
        // batch of inserts costs one commit, not one read per document.
        entries.set(k, { key: { collection, id }, seen: undefined, pending: { kind: 'put', body } });
        return;
      }
      if (isLive(known)) throw new ConflictError(`${collection}/${JSON.stringify(id)} already exists`, liveDoc(known), { details: { ...known.key } });
      known.pending = { kind: 'put', body };
    },
    update: async (collection, doc, options) => {
      guard();
      const body = ctx.body(collection, doc);
      const expected = checkVersion(writeOptions(options).expectedVersion);
      const [e] = (await load([{ collection, id: body.id as string }])) as [Entry];
      checkExpected(e, expected);
      if (!isLive(e)) throw new NotFoundError(`${collection}/${JSON.stringify(body.id)} does not exist`, { details: { ...e.key } });
      e.pending = { kind: 'put', body };
    },
    upsert: async (collection, doc, options) => {
      guard();
      const body = ctx.body(collection, doc);
      const expected = checkVersion(writeOptions(options).expectedVersion);
      const [e] = (await load([{ collection, id: body.id as string }])) as [Entry];
      checkExpected(e, expected);
      e.pending = { kind: 'put', body };
    },
    delete: async (collection, id, options) => {
      guard();
      const key = ctx.key(collection, id);
      const expected = checkVersion(writeOptions(options).expectedVersion);
      const [e] = (await load([key])) as [Entry];
      checkExpected(e, expected);
      if (!isLive(e)) throw new NotFoundError(`${collection}/${JSON.stringify(id)} does not exist`, { details: { ...key } });
      e.pending = { kind: 'delete' };
    },
  };
  const tx: Transaction = {
    get: (collection, id) => track(ops.get(collection, id)),
    find: (collection, query) => track(ops.find(collection, query)),
    insert: (collection, doc) => track(ops.insert(collection, doc)),
    update: (collection, doc, options) => track(ops.update(collection, doc, options)),
    upsert: (collection, doc, options) => track(ops.upsert(collection, doc, options)),
    delete: (collection, id, options) => track(ops.delete(collection, id, options)),
  };
  let result: T;
  try {
    result = await fn(tx);
  } finally {
    // Operations still running (not awaited by `fn`, or started by those) finish first.
    for (let settled = 0; settled < started.length; ) {
      const batch = started.slice(settled);
      settled = started.length;
      await Promise.allSettled(batch);
    }
    done = true;
  }
  if (failure !== undefined) throw failure.error;
  const writes: PlannedWrite[] = [];
  for (const e of entries.values()) {
    const expect: Expectation = e.seen && !e.seen.deleted ? { kind: 'version', version: e.seen.version } : { kind: 'absent' };
    if (e.pending === undefined) {
      writes.push({ op: { ...e.key, kind: 'check', expect }, onFail: 'conflict' });
    } else if (e.pending.kind === 'delete' && !meetsExpectation(e.seen, { kind: 'exists' })) {
      // Deleting what the transaction itself created: nothing to write, only to check.
      writes.push({ op: { ...e.key, kind: 'check', expect }, onFail: 'conflict' });
    } else {
      writes.push({ op: { ...e.key, kind: e.pending.kind, ...(e.pending.kind === 'put' ? { body: e.pending.body } : {}), expect }, onFail: 'conflict' });
    }
  }
  if (writes.length > 0) await ctx.commit(writes);
  return result;
}
