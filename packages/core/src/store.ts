/**
 * The Store: what applications use, built on any `StorageAdapter`.
 *
 * The Store validates every input before anything is written, injects the metadata
 * (`_sync_id`, `_version`, `_created_at`, `_updated_at`), turns failed preconditions into typed
 * errors, runs queries, optimistic transactions and delta reads. All of it is the same for every
 * backend, so it lives here once. This file is the public class; each part lives in a file of
 * its own name: `documents.ts` (document checks), `store-context.ts` (the commit path),
 * `find.ts`, `changes.ts` (changesSince, watch), `transaction.ts`, `system.ts` (replica and
 * system-collection access), `retry.ts`, `input-checks.ts` (options and throwing getters).
 */
import type { AdapterCapabilities, Expectation, JsonObject, StorageAdapter, StoredRecord } from './adapter.js';
import { ChangeFeed } from './change-feed.js';
import type { ChangePage, ChangeSubscription, ChangesOptions, WatchOptions } from './changes.js';
import { changesArgs, changesOptions, readChanges, subscribeChanges, watchChanges, watchOptions } from './changes.js';
import type { Doc, DocInput, WriteOptions } from './documents.js';
import { asDoc, checkVersion, expectationFor, writeOptions } from './documents.js';
import { UnsupportedError, ValidationError, describeValue, toBackendError } from './errors.js';
import { findDocuments, indexMember } from './find.js';
import { optionsOf, readInput } from './input-checks.js';
import type { IndexSpec } from './index-types.js';
import { assertIndexSpec } from './indexes.js';
import { DEFAULT_MAX_DOCUMENT_BYTES, assertCollectionName } from './json.js';
import type { Query } from './query.js';
import { compileQuery } from './query.js';
import type { PlannedWrite } from './store-context.js';
import { StoreContext } from './store-context.js';
import type { SystemAccess } from './system.js';
import { kSystem, systemAccess } from './system.js';
import type { Transaction } from './transaction.js';
import { runTransaction } from './transaction.js';

/** What a write takes for type argument `T`: without one, any object with an `id` (checked at run time). */
type InputFor<T extends object> = JsonObject extends T ? DocInput : DocInput<T>;

export interface StoreOptions {
  /** Largest document (UTF-8 JSON of the user's fields), a positive integer. Default 1 MiB. Anything else is `VALIDATION`. */
  readonly maxDocumentBytes?: number;
  /** Clock for the timestamps. Default `() => new Date()`. */
  readonly clock?: () => Date;
  /**
   * How often `watch` polls `sequence()` for commits of other processes when the adapter has no
   * change feed (`capabilities.changeFeed` false), in ms. Only while a watcher is running.
   * Default 100, from 1 to 60 000.
   */
  readonly pollIntervalMs?: number;
}

/**
 * Most documents one `insertMany` call takes: 100 000. Every adapter commits a batch of this size
 * atomically (a commit is one transaction, script or batch); the conformance suite checks it.
 */
export const MAX_INSERT_MANY = 100_000;
const ABSENT: Expectation = Object.freeze({ kind: 'absent' });

/**
 * A Store on one adapter. Create it with `openStore`.
 */
export class Store {
  readonly adapter: StorageAdapter;
  readonly #ctx: StoreContext;

  constructor(adapter: StorageAdapter, given?: StoreOptions) {
    this.adapter = adapter;
    const options = optionsOf(given, 'store options', ['maxDocumentBytes', 'clock', 'pollIntervalMs']);
    const max: unknown = options.maxDocumentBytes === undefined ? DEFAULT_MAX_DOCUMENT_BYTES : options.maxDocumentBytes;
    // NaN, Infinity or a string would make every size comparison false: no limit at all.
    if (typeof max !== 'number' || !Number.isSafeInteger(max) || max < 1) {
      throw new ValidationError(`maxDocumentBytes must be a positive integer, got ${describeValue(max)}`);
    }
    if (options.clock !== undefined && typeof options.clock !== 'function') throw new ValidationError('clock must be a function returning a Date');
    const poll = options.pollIntervalMs ?? 100;
    if (typeof poll !== 'number' || !Number.isSafeInteger(poll) || poll < 1 || poll > 60_000) {
      throw new ValidationError(`pollIntervalMs must be an integer from 1 to 60000, got ${describeValue(poll)}`);
    }
    this.#ctx = new StoreContext(adapter, new ChangeFeed(adapter, poll), max, options.clock ?? (() => new Date()));
  }

  /** The adapter's capabilities. */
  get capabilities(): Readonly<AdapterCapabilities> {
    return this.adapter.capabilities;
  }

  // ---- documents -------------------------------------------------------------------------

  /**
   * Inserts a new document. Its `id` must not be taken by a live document (a tombstone may be
   * replaced; the version then continues from the tombstone's).
   *
   * @returns the stored document with metadata (`_version` 1 for a new id).
   * @throws `VALIDATION` (bad input, nothing written), `CONFLICT` (id taken; `current` holds it),
   *   `CLOSED`, `BACKEND`.
   */
  async insert<T extends object = JsonObject>(collection: string, doc: InputFor<NoInfer<T>>): Promise<Doc<NoInfer<T>>> {
    this.#ctx.open();
    const body = this.#ctx.body(collection, doc);
    const [record] = await this.#ctx.commit([
      { op: { collection, id: body.id as string, kind: 'put', body, expect: { kind: 'absent' } }, onFail: 'exists' },
    ]);
    return asDoc(record as StoredRecord) as Doc<T>;
  }

  /**
   * Inserts many new documents into one collection in one atomic commit: all of them or none.
   * Every document is validated before anything is written; ids must be distinct within the
   * batch and not taken by a live document (tombstones may be replaced, as with `insert`).
   * The fastest public way to write a batch: one commit, no reads before it (the commit's
   * absence check is the conflict check). An empty array writes nothing and returns `[]`.
   *
   * @returns the stored documents with metadata, in the order given (consecutive `_sync_id`s).
   * @throws `VALIDATION` (not an array, a bad document, a repeated id; `details.index` names the
   *   document; nothing written), `CONFLICT` (an id is taken; `current` holds that document,
   *   nothing written), `CLOSED`, `BACKEND`.
   */
  async insertMany<T extends object = JsonObject>(collection: string, docs: readonly InputFor<NoInfer<T>>[]): Promise<Doc<NoInfer<T>>[]> {
    this.#ctx.open();
    assertCollectionName(collection);
    if (!Array.isArray(docs)) throw new ValidationError(`docs must be an array of documents, got ${docs === null ? 'null' : typeof docs}`);
    if (docs.length > MAX_INSERT_MANY) throw new ValidationError(`insertMany takes at most ${MAX_INSERT_MANY} documents per call, got ${docs.length}`);
    const writes: PlannedWrite[] = new Array<PlannedWrite>(docs.length);
    const ids = new Set<string>();
    for (let i = 0; i < docs.length; i++) {
      let body: JsonObject;
      try {
        body = this.#ctx.body(collection, readInput('the document', () => docs[i]), false, false, true);
      } catch (e) {
        if (e instanceof ValidationError) throw new ValidationError(`docs[${i}]: ${e.message}`, { details: { ...e.details, index: i }, cause: e.cause ?? e });
        throw e;
      }
      const id = body.id as string;
      if (ids.has(id)) throw new ValidationError(`docs[${i}]: id ${JSON.stringify(id.slice(0, 80))} appears twice in one batch`, { details: { index: i, id } });
      ids.add(id);
      writes[i] = { op: { collection, id, kind: 'put', body, expect: ABSENT }, onFail: 'exists' };
    }
    if (writes.length === 0) return [];
    return (await this.#ctx.commit(writes)).map((r) => asDoc(r) as Doc<T>);
  }

  /**
   * Reads one document; `undefined` when it does not exist or was deleted.
   *
   * @throws `VALIDATION`, `CLOSED`, `BACKEND`.
   */
  async get<T extends object = JsonObject>(collection: string, id: string): Promise<Doc<NoInfer<T>> | undefined> {
    this.#ctx.open();
    const key = this.#ctx.key(collection, id);
    const [record] = await this.#ctx.call('get failed', () => this.adapter.getMany([key]));
    return record && !record.deleted ? (asDoc(record) as Doc<T>) : undefined;
  }

  /**
   * Reads several documents of one collection from one consistent snapshot.
   *
   * @throws `VALIDATION`, `CLOSED`, `BACKEND`.
   */
  async getMany<T extends object = JsonObject>(collection: string, ids: readonly string[]): Promise<(Doc<NoInfer<T>> | undefined)[]> {
    this.#ctx.open();
    if (!Array.isArray(ids)) throw new ValidationError('ids must be an array of strings');
    const keys = ids.map((id) => this.#ctx.key(collection, id));
    const records = await this.#ctx.call('getMany failed', () => this.adapter.getMany(keys));
    return records.map((r) => (r && !r.deleted ? (asDoc(r) as Doc<T>) : undefined));
  }

  /**
   * Replaces a document (full replacement: fields left out are gone; metadata carries over).
   *
   * @throws `VALIDATION`, `NOT_FOUND` (no live document), `CONFLICT` (`expectedVersion` differs),
   *   `CLOSED`, `BACKEND`.
   */
  async update<T extends object = JsonObject>(collection: string, doc: InputFor<NoInfer<T>>, options?: WriteOptions): Promise<Doc<NoInfer<T>>> {
    this.#ctx.open();
    const body = this.#ctx.body(collection, doc);
    const expected = checkVersion(writeOptions(options).expectedVersion);
    const expect = expectationFor(expected, { kind: 'exists' });
    const [record] = await this.#ctx.commit([
      { op: { collection, id: body.id as string, kind: 'put', body, expect }, onFail: expected === undefined ? 'not-found' : 'conflict' },
    ]);
    return asDoc(record as StoredRecord) as Doc<T>;
  }

  /**
   * Inserts or replaces, atomically (no read-then-write race).
   *
   * @throws `VALIDATION`, `CONFLICT` (`expectedVersion` given and different), `CLOSED`, `BACKEND`.
   */
  async upsert<T extends object = JsonObject>(collection: string, doc: InputFor<NoInfer<T>>, options?: WriteOptions): Promise<Doc<NoInfer<T>>> {
    this.#ctx.open();
    const body = this.#ctx.body(collection, doc);
    const expect = expectationFor(checkVersion(writeOptions(options).expectedVersion), undefined);
    const [record] = await this.#ctx.commit([{ op: { collection, id: body.id as string, kind: 'put', body, expect }, onFail: 'conflict' }]);
    return asDoc(record as StoredRecord) as Doc<T>;
  }

  /**
   * Deletes a document by writing a tombstone (`_deleted: true`, a new `_sync_id` and
   * `_version`), which `changesSince` returns and `get`/`find` hide.
   *
   * @returns the tombstone.
   * @throws `VALIDATION`, `NOT_FOUND`, `CONFLICT` (`expectedVersion` differs), `CLOSED`, `BACKEND`.
   */
  async delete(collection: string, id: string, options?: WriteOptions): Promise<Doc> {
    this.#ctx.open();
    this.#ctx.key(collection, id);
    const expected = checkVersion(writeOptions(options).expectedVersion);
    if (expected === 0) throw new ValidationError('expectedVersion 0 (must not exist) makes no sense for a delete');
    const expect = expectationFor(expected, { kind: 'exists' });
    const [record] = await this.#ctx.commit([{ op: { collection, id, kind: 'delete', expect }, onFail: expected === undefined ? 'not-found' : 'conflict' }]);
    return asDoc(record as StoredRecord);
  }

  /**
   * Finds the live documents of a collection that match `query` (see `query.ts`). Every match
   * is returned unless `limit` says otherwise: there is no hidden cap.
   *
   * @throws `VALIDATION` (malformed query), `CLOSED`, `BACKEND`.
   */
  async find<T extends object = JsonObject>(collection: string, query?: Query): Promise<Doc<NoInfer<T>>[]> {
    this.#ctx.open();
    assertCollectionName(collection);
    const compiled = compileQuery(query);
    return (await findDocuments(this.#ctx, collection, compiled)) as Doc<T>[];
  }

  /**
   * Declares an index on `field` of `collection` and builds it over the documents already
   * there. `find` then answers conditions on that field (`$eq`, `$in`, `$gt`/`$gte`/`$lt`/`$lte`
   * with a scalar operand) from the index instead of reading the whole collection, and applies
   * the rest of the query (other conditions, sort, skip, limit) to what the index returned:
   * the answer is the same as without the index, only faster. Idempotent.
   *
   * The declaration is stored in the backend: it survives reopen and every store on the same
   * backend (other instances, processes, tabs) keeps and uses it. Every commit updates the index
   * atomically with the documents. Each adapter README says whether the build is one atomic
   * step or resumable.
   *
   * ```ts
   * await store.createIndex('container_observed', 'status.phase');
   * await store.find('container_observed', { filter: { 'status.phase': 'running' } }); // one index lookup
   * ```
   *
   * - `field`: a dotted path of names (letters, digits, `_`; a letter first; at most 8 deep and
   *   128 characters). Array positions (`items.0`) and metadata fields cannot be indexed.
   *
   * @throws `VALIDATION` (bad collection or field), `UNSUPPORTED` (the adapter does not declare
   *   `capabilities.indexes`), `CLOSED`, `BACKEND`.
   */
  async createIndex(collection: string, field: string): Promise<void> {
    this.#ctx.open();
    assertIndexSpec(collection, field);
    const create = indexMember(this.adapter, 'createIndex');
    await this.#ctx.call('createIndex failed', () => create(collection, field));
  }

  /**
   * Removes the index on `field` of `collection`; `find` scans again for that field. No-op when
   * there is none.
   *
   * @throws `VALIDATION`, `UNSUPPORTED`, `CLOSED`, `BACKEND`.
   */
  async dropIndex(collection: string, field: string): Promise<void> {
    this.#ctx.open();
    assertIndexSpec(collection, field);
    const drop = indexMember(this.adapter, 'dropIndex');
    await this.#ctx.call('dropIndex failed', () => drop(collection, field));
  }

  /**
   * The indexes declared on this store (by any instance), sorted by collection and field; only
   * those of `collection` when given. An adapter without `capabilities.indexes` has none.
   *
   * @throws `VALIDATION`, `CLOSED`, `BACKEND`.
   */
  async listIndexes(collection?: string): Promise<IndexSpec[]> {
    this.#ctx.open();
    if (collection !== undefined) assertCollectionName(collection);
    const list = this.adapter.listIndexes?.bind(this.adapter);
    if (!this.adapter.capabilities.indexes || list === undefined) return [];
    const all = await this.#ctx.call('listIndexes failed', () => list());
    return all.filter((s) => collection === undefined || s.collection === collection).map((s) => ({ collection: s.collection, field: s.field }));
  }

  /** Names of the application collections that hold documents or tombstones. */
  async listCollections(): Promise<string[]> {
    const names = await this.#ctx.call('listCollections failed', () => this.adapter.listCollections());
    return names.filter((n) => !n.startsWith('_'));
  }

  // ---- sync ------------------------------------------------------------------------------

  /** Tombstones with `_sync_id` up to this may be gone (0 if never compacted); see `ChangesOptions.afterCompaction`. */
  async compactedThrough(): Promise<number> {
    const seq = await this.#ctx.call('sequence failed', () => this.adapter.sequence());
    return seq.compactedThrough;
  }

  /** The highest `_sync_id` handed out so far (0 for a new store). */
  async lastSyncId(): Promise<number> {
    const seq = await this.#ctx.call('sequence failed', () => this.adapter.sequence());
    return seq.lastSyncId;
  }

  /**
   * The changes after `cursor`, ascending by `_sync_id`: the current state of every document
   * written since, tombstones included. Call it again with the returned `cursor` until
   * `hasMore` is false; a reader that does so misses no change, even while others write.
   *
   * @throws `VALIDATION` (bad cursor, collection or limit), `RESET_REQUIRED` (the cursor is
   *   ahead of this store, or older than compacted tombstones: start again from 0 and rebuild),
   *   `CLOSED`, `BACKEND`.
   */
  async changesSince(cursor: number, options?: ChangesOptions): Promise<ChangePage> {
    this.#ctx.open();
    return readChanges(this.#ctx, cursor, changesOptions(options), false);
  }

  /**
   * A live change feed: the pages after `cursor` as they commit, then it waits for more. Same
   * guarantee as `changesSince` (nothing missed, nothing out of order, ascending `_sync_id`),
   * since it reads through it; only non-empty pages are yielded. Wake-ups coalesce and a page is
   * read only when the consumer asks for it, so a slow consumer gets fuller pages (up to `limit`),
   * never a growing buffer. Commits of this Store wake it at once; those of other processes or
   * clients through the adapter's change feed, or a poll of `sequence()` every
   * `StoreOptions.pollIntervalMs` without one.
   *
   * Ends (returns) on `signal` abort, on `break`/`return` of the loop, and on `store.close()`.
   *
   * ```ts
   * for await (const page of store.watch(cursor, { signal })) {
   *   apply(page.changes);
   *   cursor = page.cursor;
   * }
   * ```
   *
   * @throws `VALIDATION` (bad cursor, collection, limit or signal; at once, before any read),
   *   `RESET_REQUIRED` (from the iterator, as `changesSince`), `CLOSED`, `BACKEND`.
   */
  watch(cursor: number, options?: WatchOptions): AsyncGenerator<ChangePage, void, undefined> {
    this.#ctx.open();
    const read = watchOptions(options);
    changesArgs(cursor, read, false);
    return watchChanges(this.#ctx, cursor, read, false);
  }

  /**
   * The callback form of `watch`, for UIs: calls `listener` with each page, one at a time (a
   * listener's promise is awaited before the next page is read). Errors of the feed and of the
   * listener end the subscription; they go to `onError` and reject `done`.
   *
   * @throws `VALIDATION`, `CLOSED` (at once).
   */
  onChanges(
    cursor: number,
    listener: (page: ChangePage) => void | Promise<void>,
    options?: WatchOptions & { readonly onError?: (error: unknown) => void },
  ): ChangeSubscription {
    if (typeof listener !== 'function') throw new ValidationError('listener must be a function');
    const read = watchOptions(options);
    return subscribeChanges((signal) => this.watch(cursor, { ...read, signal }), cursor, listener, read);
  }

  /**
   * Removes tombstones with `_sync_id <= through`. Readers whose cursor is older get
   * `RESET_REQUIRED`. Needs `capabilities.compaction`.
   *
   * @throws `UNSUPPORTED`, `VALIDATION`, `CLOSED`, `BACKEND`.
   */
  async compact(through: number): Promise<number> {
    this.#ctx.open();
    const compact = this.adapter.compact?.bind(this.adapter);
    if (!this.adapter.capabilities.compaction || compact === undefined) {
      throw new UnsupportedError('this adapter does not declare the "compaction" capability');
    }
    if (!Number.isSafeInteger(through) || through < 0) throw new ValidationError('through must be a non-negative integer');
    return this.#ctx.call('compact failed', () => compact(through));
  }

  // ---- transactions ----------------------------------------------------------------------

  /**
   * Runs `fn` as an optimistic transaction. Reads go to the store and record the version they
   * saw; writes are buffered (and visible to later reads of the same transaction). When `fn`
   * returns, everything commits atomically with every read version as a precondition: if any
   * document read or written changed in the meantime, the transaction throws `CONFLICT` and
   * nothing is written. If `fn` throws, nothing is written and the error passes through.
   * Operations `fn` did not await are waited for before the commit, and if any operation of
   * the transaction failed (awaited or not, caught by `fn` or not), nothing is written and the
   * transaction throws the first such error: an operation's failure is never silently dropped.
   * (To branch on whether a document exists, `get` it first rather than catching an error.)
   * Use `withRetry` to run it again on conflicts. Queries (`find`) record the versions of the
   * documents they return, not the absence of others (no phantom protection).
   */
  async transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    this.#ctx.open();
    if (typeof fn !== 'function') throw new ValidationError(`transaction takes a function (tx) => Promise, got ${describeValue(fn)}`);
    return runTransaction(this.#ctx, fn);
  }

  // ---- system access (for Registry, TxCache, SyncState in this package) -----------------

  /** @internal */
  get [kSystem](): SystemAccess {
    return systemAccess(this.#ctx);
  }

  /** @internal */
  systemChanges(cursor: number, options: ChangesOptions): Promise<ChangePage> {
    this.#ctx.open();
    return readChanges(this.#ctx, cursor, changesOptions(options), true);
  }

  /** @internal `watch` that may name system collections (for the sync layer in this repo). */
  systemWatch(cursor: number, options: WatchOptions): AsyncGenerator<ChangePage, void, undefined> {
    this.#ctx.open();
    const read = watchOptions(options);
    changesArgs(cursor, read, true);
    return watchChanges(this.#ctx, cursor, read, true);
  }

  /** Closes the store and its adapter. Idempotent; later calls throw `CLOSED`. */
  async close(): Promise<void> {
    if (this.#ctx.closed) return;
    this.#ctx.closed = true;
    this.#ctx.feed.close();
    try {
      await this.adapter.close();
    } catch (e) {
      throw toBackendError(e, 'close failed');
    }
  }

  /** `await using store = await openStore(...)` closes it at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
