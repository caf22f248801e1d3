/**
 * The Store: what applications use, built on any `StorageAdapter`.
 *
 * The Store validates every input before anything is written, injects the metadata
 * (`_sync_id`, `_version`, `_created_at`, `_updated_at`), turns failed preconditions into typed
 * errors, runs queries, optimistic transactions and delta reads. All of it is the same for every
 * backend, so it lives here once.
 */
import type { AdapterCapabilities, CommitFailure, DocKey, Expectation, JsonObject, JsonValue, SequenceState, StorageAdapter, StoredRecord, WriteOp } from './adapter.js';
import {
  ClosedError,
  ConflictError,
  NotFoundError,
  ResetRequiredError,
  UnsupportedError,
  ValidationError,
  describeValue,
  isCseError,
  toBackendError,
} from './errors.js';
import { DEFAULT_MAX_DOCUMENT_BYTES, assertCollectionName, assertId, copyJson } from './json.js';
import type { CompiledQuery, Query } from './query.js';
import type { IndexSpec } from './indexes.js';
import { assertIndexSpec, planIndexProbes } from './indexes.js';
import { compileQuery, runQuery } from './query.js';
import { Field, docKeyString, meetsExpectation } from './records.js';
import type { Waiter } from './change-feed.js';
import { ChangeFeed } from './change-feed.js';

/** The fields the Store sets on every document it returns. */
export interface DocMeta {
  id: string;
  _sync_id: number;
  _version: number;
  _created_at: string;
  _updated_at: string;
}

/**
 * A document as the Store returns it: the user's fields plus the metadata. `T` is the
 * application's type for the fields (`store.get<Pump>('pumps', id)` → `Pump & DocMeta`). The
 * Store does not check a stored document against `T` when reading: like a cast, the type
 * argument is the application's claim about that collection. Default: any JSON object.
 */
export type Doc<T extends object = JsonObject> = T & DocMeta;

/**
 * A document as callers pass it in: any JSON object with a string `id`, or, typed, a `T`
 * (`store.insert<Pump>('pumps', pump)` checks `pump` against `Pump` at compile time).
 */
export type DocInput<T extends object = Readonly<Record<string, unknown>>> = { readonly id: string } & T;

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

export interface WriteOptions {
  /**
   * The `_version` the stored document must have for the write to go through; `0` means "must
   * not exist". A mismatch is a `ConflictError` carrying the current document. Metadata inside
   * the document itself is never used for this check.
   */
  readonly expectedVersion?: number;
}

export interface ChangesOptions {
  /** Only these collections (default: every application collection; system ones are left out). */
  readonly collections?: readonly string[];
  /** Largest page. Default 100, at most 10 000. */
  readonly limit?: number;
  /**
   * Skips the check that the cursor is not older than compacted tombstones. Only for a reader
   * whose cursor comes from pages it read after the last compaction (so it lost nothing to it),
   * e.g. paging from 0 through a store compacted before the first page: it can tell by
   * `compactedThrough()` being unchanged since then. The check for a cursor ahead of the store stays.
   */
  readonly afterCompaction?: boolean;
}

/** One change as `changesSince` returns it: a document's current state, live or a tombstone. */
export interface Change {
  readonly collection: string;
  readonly id: string;
  readonly syncId: number;
  readonly version: number;
  readonly deleted: boolean;
  /** The document with metadata; for a tombstone only `id`, metadata and `_deleted`/`_deleted_at`. */
  readonly doc: Doc;
}

export interface WatchOptions extends ChangesOptions {
  /** Ends the watch: the iterator returns (no error), its timers and listeners are released. */
  readonly signal?: AbortSignal;
}

/** What `Store.onChanges` returns. */
export interface ChangeSubscription {
  /** The cursor after the last page the listener finished with. */
  readonly cursor: number;
  /** Ends the subscription; resolves once the listener is no longer called. */
  stop(): Promise<void>;
  /** Settles when the subscription ends: resolves on stop, abort or close; rejects with the error that ended it. */
  readonly done: Promise<void>;
}

export interface ChangePage {
  /** Ascending by `syncId`. */
  readonly changes: Change[];
  /**
   * Pass it to the next call: the highest `syncId` read (the last change of a full page; past
   * skipped system records otherwise), or the given cursor when nothing was read.
   */
  readonly cursor: number;
  /** True when more changes were waiting after this page. */
  readonly hasMore: boolean;
}

/** Reads and writes inside `Store.transaction`. */
export interface Transaction {
  get(collection: string, id: string): Promise<Doc | undefined>;
  find(collection: string, query?: Query): Promise<Doc[]>;
  insert(collection: string, doc: DocInput): Promise<void>;
  update(collection: string, doc: DocInput, options?: WriteOptions): Promise<void>;
  upsert(collection: string, doc: DocInput, options?: WriteOptions): Promise<void>;
  delete(collection: string, id: string, options?: WriteOptions): Promise<void>;
}

/** How the Store writes: one entry of a commit, before the adapter sees it. */
interface PlannedWrite {
  readonly op: WriteOp;
  /** What a failed precondition means for the caller. */
  readonly onFail: 'conflict' | 'not-found' | 'exists';
}

const MAX_PAGE = 10_000;
/** Most documents one `insertMany` call takes (a commit is one transaction, script or batch). */
const MAX_BATCH = 100_000;
const ABSENT: Expectation = Object.freeze({ kind: 'absent' });
const SYSTEM_KEYS = new Set<string>([Field.syncId, Field.version, Field.createdAt, Field.updatedAt, Field.deleted, Field.deletedAt]);
const SYNC_STATUS = new Set(['pending', 'synced', 'conflict']);
/** Replica metadata: kept only on the replica write path, dropped (never trusted) elsewhere. */
const REPLICA_KEYS = new Set<string>([Field.edgeSyncId, Field.edgeVersion, Field.conflict]);

/** Symbol-keyed entry points for the CSE components in this package (system collections). */
export const kSystem = Symbol('cse.system');

export interface SystemAccess {
  commit(writes: readonly WriteOp[]): Promise<readonly StoredRecord[]>;
  getMany(keys: readonly DocKey[]): Promise<(StoredRecord | undefined)[]>;
  scan(collection: string): Promise<StoredRecord[]>;
  body(collection: string, doc: unknown, replica?: boolean): JsonObject;
}

function checkVersion(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new ValidationError(`expectedVersion must be a non-negative integer, got ${describeValue(v)}`);
  }
  return v;
}

function expectationFor(expectedVersion: number | undefined, fallback: Expectation | undefined): Expectation | undefined {
  if (expectedVersion === undefined) return fallback;
  return expectedVersion === 0 ? { kind: 'absent' } : { kind: 'version', version: expectedVersion };
}

function asDoc(record: StoredRecord): Doc {
  return record.doc as Doc;
}

/**
 * A Store on one adapter. Create it with `openStore`.
 */
export class Store {
  readonly adapter: StorageAdapter;
  readonly #maxBytes: number;
  readonly #clock: () => Date;
  readonly #feed: ChangeFeed;
  #closed = false;

  constructor(adapter: StorageAdapter, options: StoreOptions = {}) {
    this.adapter = adapter;
    const max: unknown = options.maxDocumentBytes === undefined ? DEFAULT_MAX_DOCUMENT_BYTES : options.maxDocumentBytes;
    // NaN, Infinity or a string would make every size comparison false: no limit at all.
    if (typeof max !== 'number' || !Number.isSafeInteger(max) || max < 1) {
      throw new ValidationError(`maxDocumentBytes must be a positive integer, got ${describeValue(max)}`);
    }
    if (options.clock !== undefined && typeof options.clock !== 'function') throw new ValidationError('clock must be a function returning a Date');
    this.#maxBytes = max;
    this.#clock = options.clock ?? (() => new Date());
    const poll = options.pollIntervalMs ?? 100;
    if (typeof poll !== 'number' || !Number.isSafeInteger(poll) || poll < 1 || poll > 60_000) {
      throw new ValidationError(`pollIntervalMs must be an integer from 1 to 60000, got ${describeValue(poll)}`);
    }
    this.#feed = new ChangeFeed(adapter, poll);
  }

  /** The adapter's capabilities. */
  get capabilities(): Readonly<AdapterCapabilities> {
    return this.adapter.capabilities;
  }

  // ---- validation -------------------------------------------------------------------------

  #open(): void {
    if (this.#closed) throw new ClosedError();
  }

  /** Validates a document and returns the user's fields, copied (metadata stripped). */
  #body(collection: string, doc: unknown, allowSystem = false, replica = false, collectionChecked = false): JsonObject {
    if (!collectionChecked) assertCollectionName(collection, allowSystem);
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
      throw new ValidationError(`a document must be a plain object, got ${doc === null ? 'null' : Array.isArray(doc) ? 'an array' : typeof doc}`);
    }
    const id = (doc as Record<string, unknown>).id;
    assertId(id);
    if (Object.getOwnPropertySymbols(doc).length > 0) throw new ValidationError('a document has symbol keys, which JSON cannot carry');
    const keys = Object.keys(doc);
    // Usually no field starts with "_": then the document itself is checked and serialised, with
    // no intermediate copy (a plain object's own enumerable keys are exactly what JSON writes).
    let plain = Object.getPrototypeOf(doc) === Object.prototype;
    for (let i = 0; plain && i < keys.length; i++) if ((keys[i] as string).charCodeAt(0) === 95) plain = false;
    const fields: Record<string, unknown> = plain ? (doc as Record<string, unknown>) : {};
    for (const key of plain ? [] : keys) {
      const value = (doc as Record<string, unknown>)[key];
      if (key.startsWith('_')) {
        if (SYSTEM_KEYS.has(key)) continue; // never trusted: the Store sets them itself
        if (REPLICA_KEYS.has(key)) {
          if (!replica) continue; // set only by a sync replica (see replica.ts)
          if (key !== Field.conflict && value !== undefined && (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)) {
            throw new ValidationError(`${key} must be a non-negative integer`);
          }
        } else if (key === Field.syncStatus) {
          if (value !== undefined && !SYNC_STATUS.has(value as string)) {
            throw new ValidationError(`_sync_status must be "pending", "synced" or "conflict", got ${JSON.stringify(value)}`);
          }
        } else if (key === Field.syncedAt) {
          if (value !== undefined && typeof value !== 'string') throw new ValidationError('_synced_at must be a string (ISO 8601)');
        } else {
          throw new ValidationError(`field ${JSON.stringify(key.slice(0, 80))} starts with "_", which is reserved for the system`, {
            details: { field: key },
          });
        }
      }
      // A top-level "__proto__" never gets here (it starts with "_", so it is rejected above);
      // nested ones are copied as data by jsonText/JSON.parse below.
      fields[key] = value;
    }
    // One walk checks and copies; the JSON text is made only for a document near the size limit.
    return copyJson(fields, this.#maxBytes, () => `document ${JSON.stringify(id.slice(0, 80))}`);
  }

  #key(collection: string, id: unknown, allowSystem = false): DocKey {
    assertCollectionName(collection, allowSystem);
    assertId(id);
    return { collection, id };
  }

  // ---- adapter calls ---------------------------------------------------------------------

  async #call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    this.#open();
    try {
      return await fn();
    } catch (e) {
      throw toBackendError(e, what);
    }
  }

  async #commit(writes: readonly PlannedWrite[]): Promise<readonly StoredRecord[]> {
    const now = this.#clock().toISOString();
    const result = await this.#call('commit failed', () => this.adapter.commit({ writes: writes.map((w) => w.op), now }));
    if (result.ok) {
      if (result.records.length > 0) this.#feed.wake();
      return result.records;
    }
    throw this.#failure(writes, result.failures);
  }

  #failure(writes: readonly PlannedWrite[], failures: readonly CommitFailure[]): Error {
    const first = failures[0] as CommitFailure;
    const write = writes[first.index] as PlannedWrite;
    const { collection, id } = write.op;
    const live = first.current !== undefined && !first.current.deleted;
    const current = live ? (first.current as StoredRecord).doc : undefined;
    const where = `${collection}/${JSON.stringify(id)}`;
    const details = { collection, id };
    if (write.onFail === 'not-found' && !live) return new NotFoundError(`${where} does not exist`, { details });
    if (write.onFail === 'exists') return new ConflictError(`${where} already exists`, current, { details });
    const expect = write.op.expect;
    const wanted = expect?.kind === 'version' ? `version ${expect.version}` : expect?.kind === 'absent' ? 'no document' : 'a document';
    const found = live ? `version ${(first.current as StoredRecord).version}` : 'no document';
    return new ConflictError(`${where}: expected ${wanted}, found ${found}`, current, { details });
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
    this.#open();
    const body = this.#body(collection, doc);
    const [record] = await this.#commit([
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
    this.#open();
    assertCollectionName(collection);
    if (!Array.isArray(docs)) throw new ValidationError(`docs must be an array of documents, got ${docs === null ? 'null' : typeof docs}`);
    if (docs.length > MAX_BATCH) throw new ValidationError(`insertMany takes at most ${MAX_BATCH} documents per call, got ${docs.length}`);
    const writes: PlannedWrite[] = new Array<PlannedWrite>(docs.length);
    const ids = new Set<string>();
    for (let i = 0; i < docs.length; i++) {
      let body: JsonObject;
      try {
        body = this.#body(collection, docs[i], false, false, true);
      } catch (e) {
        if (e instanceof ValidationError) throw new ValidationError(`docs[${i}]: ${e.message}`, { details: { ...e.details, index: i } });
        throw e;
      }
      const id = body.id as string;
      if (ids.has(id)) throw new ValidationError(`docs[${i}]: id ${JSON.stringify(id.slice(0, 80))} appears twice in one batch`, { details: { index: i, id } });
      ids.add(id);
      writes[i] = { op: { collection, id, kind: 'put', body, expect: ABSENT }, onFail: 'exists' };
    }
    if (writes.length === 0) return [];
    return (await this.#commit(writes)).map((r) => asDoc(r) as Doc<T>);
  }

  /**
   * Reads one document; `undefined` when it does not exist or was deleted.
   *
   * @throws `VALIDATION`, `CLOSED`, `BACKEND`.
   */
  async get<T extends object = JsonObject>(collection: string, id: string): Promise<Doc<NoInfer<T>> | undefined> {
    this.#open();
    const key = this.#key(collection, id);
    const [record] = await this.#call('get failed', () => this.adapter.getMany([key]));
    return record && !record.deleted ? (asDoc(record) as Doc<T>) : undefined;
  }

  /**
   * Reads several documents of one collection from one consistent snapshot.
   *
   * @throws `VALIDATION`, `CLOSED`, `BACKEND`.
   */
  async getMany<T extends object = JsonObject>(collection: string, ids: readonly string[]): Promise<(Doc<NoInfer<T>> | undefined)[]> {
    this.#open();
    if (!Array.isArray(ids)) throw new ValidationError('ids must be an array of strings');
    const keys = ids.map((id) => this.#key(collection, id));
    const records = await this.#call('getMany failed', () => this.adapter.getMany(keys));
    return records.map((r) => (r && !r.deleted ? (asDoc(r) as Doc<T>) : undefined));
  }

  /**
   * Replaces a document (full replacement: fields left out are gone; metadata carries over).
   *
   * @throws `VALIDATION`, `NOT_FOUND` (no live document), `CONFLICT` (`expectedVersion` differs),
   *   `CLOSED`, `BACKEND`.
   */
  async update<T extends object = JsonObject>(collection: string, doc: InputFor<NoInfer<T>>, options: WriteOptions = {}): Promise<Doc<NoInfer<T>>> {
    this.#open();
    const body = this.#body(collection, doc);
    const expected = checkVersion(options.expectedVersion);
    const expect = expectationFor(expected, { kind: 'exists' });
    const [record] = await this.#commit([
      { op: { collection, id: body.id as string, kind: 'put', body, expect }, onFail: expected === undefined ? 'not-found' : 'conflict' },
    ]);
    return asDoc(record as StoredRecord) as Doc<T>;
  }

  /**
   * Inserts or replaces, atomically (no read-then-write race).
   *
   * @throws `VALIDATION`, `CONFLICT` (`expectedVersion` given and different), `CLOSED`, `BACKEND`.
   */
  async upsert<T extends object = JsonObject>(collection: string, doc: InputFor<NoInfer<T>>, options: WriteOptions = {}): Promise<Doc<NoInfer<T>>> {
    this.#open();
    const body = this.#body(collection, doc);
    const expect = expectationFor(checkVersion(options.expectedVersion), undefined);
    const [record] = await this.#commit([{ op: { collection, id: body.id as string, kind: 'put', body, expect }, onFail: 'conflict' }]);
    return asDoc(record as StoredRecord) as Doc<T>;
  }

  /**
   * Deletes a document by writing a tombstone (`_deleted: true`, a new `_sync_id` and
   * `_version`), which `changesSince` returns and `get`/`find` hide.
   *
   * @returns the tombstone.
   * @throws `VALIDATION`, `NOT_FOUND`, `CONFLICT` (`expectedVersion` differs), `CLOSED`, `BACKEND`.
   */
  async delete(collection: string, id: string, options: WriteOptions = {}): Promise<Doc> {
    this.#open();
    this.#key(collection, id);
    const expected = checkVersion(options.expectedVersion);
    if (expected === 0) throw new ValidationError('expectedVersion 0 (must not exist) makes no sense for a delete');
    const expect = expectationFor(expected, { kind: 'exists' });
    const [record] = await this.#commit([{ op: { collection, id, kind: 'delete', expect }, onFail: expected === undefined ? 'not-found' : 'conflict' }]);
    return asDoc(record as StoredRecord);
  }

  /**
   * Finds the live documents of a collection that match `query` (see `query.ts`). Every match
   * is returned unless `limit` says otherwise: there is no hidden cap.
   *
   * @throws `VALIDATION` (malformed query), `CLOSED`, `BACKEND`.
   */
  async find<T extends object = JsonObject>(collection: string, query?: Query): Promise<Doc<NoInfer<T>>[]> {
    this.#open();
    assertCollectionName(collection);
    const compiled = compileQuery(query);
    const indexed = await this.#findIndexed(collection, compiled);
    const records = indexed ?? (await this.#call('find failed', () => this.adapter.scanCollection(collection)));
    return runQuery(
      records.filter((r) => !r.deleted).map((r) => r.doc),
      compiled,
    ) as Doc<T>[];
  }

  /** Candidates from an index (every match among them, duplicates dropped), or `undefined` to scan. */
  async #findIndexed(collection: string, compiled: CompiledQuery): Promise<StoredRecord[] | undefined> {
    const lookup = this.adapter.findIndexed?.bind(this.adapter);
    if (!this.adapter.capabilities.indexes || lookup === undefined) return undefined;
    const probes = planIndexProbes(compiled);
    if (probes.length === 0) return undefined;
    const records = await this.#call('find failed', () => lookup(collection, probes));
    if (records === undefined || records.length < 2) return records;
    const seen = new Set<string>();
    return records.filter((r) => !seen.has(r.id) && seen.add(r.id) !== undefined);
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
    this.#open();
    assertIndexSpec(collection, field);
    const create = this.#indexMember('createIndex');
    await this.#call('createIndex failed', () => create(collection, field));
  }

  /**
   * Removes the index on `field` of `collection`; `find` scans again for that field. No-op when
   * there is none.
   *
   * @throws `VALIDATION`, `UNSUPPORTED`, `CLOSED`, `BACKEND`.
   */
  async dropIndex(collection: string, field: string): Promise<void> {
    this.#open();
    assertIndexSpec(collection, field);
    const drop = this.#indexMember('dropIndex');
    await this.#call('dropIndex failed', () => drop(collection, field));
  }

  /**
   * The indexes declared on this store (by any instance), sorted by collection and field; only
   * those of `collection` when given. An adapter without `capabilities.indexes` has none.
   *
   * @throws `VALIDATION`, `CLOSED`, `BACKEND`.
   */
  async listIndexes(collection?: string): Promise<IndexSpec[]> {
    this.#open();
    if (collection !== undefined) assertCollectionName(collection);
    const list = this.adapter.listIndexes?.bind(this.adapter);
    if (!this.adapter.capabilities.indexes || list === undefined) return [];
    const all = await this.#call('listIndexes failed', () => list());
    return all.filter((s) => collection === undefined || s.collection === collection).map((s) => ({ collection: s.collection, field: s.field }));
  }

  #indexMember<K extends 'createIndex' | 'dropIndex'>(name: K): NonNullable<StorageAdapter[K]> {
    const member = this.adapter[name]?.bind(this.adapter);
    if (!this.adapter.capabilities.indexes || member === undefined) {
      throw new UnsupportedError('this adapter does not declare the "indexes" capability; find scans the collection');
    }
    return member as NonNullable<StorageAdapter[K]>;
  }

  /** Names of the application collections that hold documents or tombstones. */
  async listCollections(): Promise<string[]> {
    const names = await this.#call('listCollections failed', () => this.adapter.listCollections());
    return names.filter((n) => !n.startsWith('_'));
  }

  // ---- sync ------------------------------------------------------------------------------

  /** Tombstones with `_sync_id` up to this may be gone (0 if never compacted); see `ChangesOptions.afterCompaction`. */
  async compactedThrough(): Promise<number> {
    const seq = await this.#call('sequence failed', () => this.adapter.sequence());
    return seq.compactedThrough;
  }

  /** The highest `_sync_id` handed out so far (0 for a new store). */
  async lastSyncId(): Promise<number> {
    const seq = await this.#call('sequence failed', () => this.adapter.sequence());
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
  async changesSince(cursor: number, options: ChangesOptions = {}): Promise<ChangePage> {
    this.#open();
    return this.#changes(cursor, options, false);
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
  watch(cursor: number, options: WatchOptions = {}): AsyncGenerator<ChangePage, void, undefined> {
    this.#open();
    this.#changesArgs(cursor, options, false);
    const signal = options.signal;
    if (signal !== undefined && (signal === null || typeof signal !== 'object' || typeof signal.addEventListener !== 'function')) {
      throw new ValidationError('signal must be an AbortSignal');
    }
    return this.#watch(cursor, options, false);
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
    options: WatchOptions & { readonly onError?: (error: unknown) => void } = {},
  ): ChangeSubscription {
    if (typeof listener !== 'function') throw new ValidationError('listener must be a function');
    const stopper = new AbortController();
    const outer = options.signal;
    const onOuterAbort = (): void => stopper.abort();
    const iterator = this.watch(cursor, { ...options, signal: stopper.signal });
    if (outer?.aborted) stopper.abort();
    outer?.addEventListener('abort', onOuterAbort, { once: true });
    let at = cursor;
    const done = (async () => {
      try {
        for await (const page of iterator) {
          await listener(page);
          at = page.cursor;
        }
      } catch (e) {
        options.onError?.(e);
        throw e;
      } finally {
        outer?.removeEventListener('abort', onOuterAbort);
      }
    })();
    done.catch(() => undefined); // `done` is for whoever wants it; an unobserved end is no crash
    return {
      get cursor() {
        return at;
      },
      stop: async () => {
        stopper.abort();
        await done.catch(() => undefined);
      },
      done,
    };
  }

  async *#watch(cursor: number, options: WatchOptions, allowSystem: boolean): AsyncGenerator<ChangePage, void, undefined> {
    const feed = this.#feed;
    const signal = options.signal;
    const waiter: Waiter = { dirty: true, wake: undefined };
    const onAbort = (): void => {
      const wake = waiter.wake;
      waiter.wake = undefined;
      wake?.();
    };
    const over = (): boolean => feed.closed || this.#closed || signal?.aborted === true;
    if (over()) return;
    const read: ChangesOptions = { ...(options.collections ? { collections: options.collections } : {}), ...(options.limit ? { limit: options.limit } : {}) };
    feed.attach(waiter);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      let at = cursor;
      for (;;) {
        if (over()) return;
        if (!waiter.dirty) {
          await new Promise<void>((resolve) => {
            waiter.wake = resolve;
          });
          continue;
        }
        // Cleared before the read: a commit that lands during the read wakes us again.
        waiter.dirty = false;
        let page: ChangePage;
        try {
          page = await this.#changes(at, read, allowSystem);
        } catch (e) {
          if (over()) return;
          throw e;
        }
        if (over()) return;
        at = page.cursor;
        if (page.hasMore) waiter.dirty = true;
        if (page.changes.length > 0) yield page;
      }
    } finally {
      feed.detach(waiter);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  #changesArgs(cursor: number, options: ChangesOptions, allowSystem: boolean): number {
    if (typeof cursor !== 'number' || !Number.isSafeInteger(cursor) || cursor < 0) {
      throw new ValidationError(`a cursor is a non-negative integer, got ${describeValue(cursor)}`);
    }
    const limit = options.limit ?? 100;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_PAGE) {
      throw new ValidationError(`limit must be an integer from 1 to ${MAX_PAGE}, got ${describeValue(limit)}`);
    }
    const collections = options.collections;
    if (collections !== undefined) {
      if (!Array.isArray(collections)) throw new ValidationError('collections must be an array of names');
      for (const c of collections) assertCollectionName(c, allowSystem);
    }
    return limit;
  }

  async #changes(cursor: number, options: ChangesOptions, allowSystem: boolean): Promise<ChangePage> {
    const limit = this.#changesArgs(cursor, options, allowSystem);
    const collections = options.collections;
    const wanted = collections;
    // With `sequencedChanges` the counter comes with the first page, from one consistent read;
    // the checks below then judge the cursor against the state the page was read from.
    const together = this.adapter.capabilities.sequencedChanges ? this.adapter.changesWithSequence?.bind(this.adapter) : undefined;
    let first: StoredRecord[] | undefined;
    let seq: SequenceState;
    if (together !== undefined) {
      const read = await this.#call('changes failed', () => together(cursor, wanted ? { limit: limit + 1, collections: wanted } : { limit: limit + 1 }));
      seq = read.sequence;
      first = read.records;
    } else {
      seq = await this.#call('sequence failed', () => this.adapter.sequence());
    }
    if (cursor > seq.lastSyncId) {
      throw new ResetRequiredError(`cursor ${cursor} is ahead of this store (last sync id ${seq.lastSyncId}): it belongs to another store or epoch`);
    }
    if (cursor > 0 && cursor < seq.compactedThrough && options.afterCompaction !== true) {
      throw new ResetRequiredError(`cursor ${cursor} is older than the compacted tombstones (through ${seq.compactedThrough}): resync from 0`);
    }
    const skipSystem = wanted === undefined && !allowSystem;
    const out: StoredRecord[] = [];
    let after = cursor;
    let hasMore = false;
    // One record more than the page tells whether more wait. Without a collection list, system
    // records are skipped after the read (keeping it O(delta)), so read on until the page fills.
    for (;;) {
      const want = limit + 1 - out.length;
      const batch = first ?? (await this.#call('changes failed', () => this.adapter.changes(after, wanted ? { limit: want, collections: wanted } : { limit: want })));
      first = undefined;
      for (const r of batch) {
        after = r.syncId;
        if (skipSystem && r.collection.startsWith('_')) continue;
        if (out.length === limit) {
          hasMore = true;
          break;
        }
        out.push(r);
      }
      if (hasMore || batch.length < want) break;
    }
    const last = out[out.length - 1];
    return {
      changes: out.map((r) => ({ collection: r.collection, id: r.id, syncId: r.syncId, version: r.version, deleted: r.deleted, doc: asDoc(r) })),
      // A full page ends at its last change. Otherwise everything up to `after` was read, and
      // skipped system records need not be read again.
      cursor: hasMore ? (last as StoredRecord).syncId : after,
      hasMore,
    };
  }

  /**
   * Removes tombstones with `_sync_id <= through`. Readers whose cursor is older get
   * `RESET_REQUIRED`. Needs `capabilities.compaction`.
   *
   * @throws `UNSUPPORTED`, `VALIDATION`, `CLOSED`, `BACKEND`.
   */
  async compact(through: number): Promise<number> {
    this.#open();
    const compact = this.adapter.compact?.bind(this.adapter);
    if (!this.adapter.capabilities.compaction || compact === undefined) {
      throw new UnsupportedError('this adapter does not declare the "compaction" capability');
    }
    if (!Number.isSafeInteger(through) || through < 0) throw new ValidationError('through must be a non-negative integer');
    return this.#call('compact failed', () => compact(through));
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
    this.#open();
    type Pending = { kind: 'put'; body: JsonObject } | { kind: 'delete' };
    interface Entry {
      key: DocKey;
      seen: StoredRecord | undefined;
      pending?: Pending;
    }
    const entries = new Map<string, Entry>();
    let done = false;
    const guard = (): void => {
      if (done) throw new ValidationError('the transaction is over; use the tx object only inside its function');
    };
    const load = async (keys: DocKey[]): Promise<Entry[]> => {
      const missing = keys.filter((k) => !entries.has(docKeyString(k.collection, k.id)));
      if (missing.length > 0) {
        const records = await this.#call('transaction read failed', () => this.adapter.getMany(missing));
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
        const [e] = await load([this.#key(collection, id)]);
        return liveDoc(e as Entry);
      },
      find: async (collection, query) => {
        guard();
        assertCollectionName(collection);
        const compiled = compileQuery(query);
        const records = await this.#call('transaction find failed', () => this.adapter.scanCollection(collection));
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
        const body = this.#body(collection, doc);
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
      update: async (collection, doc, options = {}) => {
        guard();
        const body = this.#body(collection, doc);
        const expected = checkVersion(options.expectedVersion);
        const [e] = (await load([{ collection, id: body.id as string }])) as [Entry];
        checkExpected(e, expected);
        if (!isLive(e)) throw new NotFoundError(`${collection}/${JSON.stringify(body.id)} does not exist`, { details: { ...e.key } });
        e.pending = { kind: 'put', body };
      },
      upsert: async (collection, doc, options = {}) => {
        guard();
        const body = this.#body(collection, doc);
        const expected = checkVersion(options.expectedVersion);
        const [e] = (await load([{ collection, id: body.id as string }])) as [Entry];
        checkExpected(e, expected);
        e.pending = { kind: 'put', body };
      },
      delete: async (collection, id, options = {}) => {
        guard();
        const key = this.#key(collection, id);
        const expected = checkVersion(options.expectedVersion);
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
    if (writes.length > 0) await this.#commit(writes);
    return result;
  }

  // ---- system access (for Registry, TxCache, SyncState in this package) -----------------

  /** @internal */
  get [kSystem](): SystemAccess {
    return {
      commit: async (ops) => {
        this.#open();
        return this.#commit(ops.map((op) => ({ op, onFail: 'conflict' as const })));
      },
      getMany: (keys) => this.#call('read failed', () => this.adapter.getMany(keys)),
      scan: (collection) => this.#call('scan failed', () => this.adapter.scanCollection(collection)),
      body: (collection, doc, replica = false) => this.#body(collection, doc, true, replica),
    };
  }

  /** @internal */
  systemChanges(cursor: number, options: ChangesOptions): Promise<ChangePage> {
    this.#open();
    return this.#changes(cursor, options, true);
  }

  /** @internal `watch` that may name system collections (for the sync layer in this repo). */
  systemWatch(cursor: number, options: WatchOptions): AsyncGenerator<ChangePage, void, undefined> {
    this.#open();
    this.#changesArgs(cursor, options, true);
    return this.#watch(cursor, options, true);
  }

  /** Closes the store and its adapter. Idempotent; later calls throw `CLOSED`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#feed.close();
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

/** Extracts the user's fields of a stored document (drops metadata). */
export function userFields(doc: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(doc)) {
    if (!SYSTEM_KEYS.has(k) && !REPLICA_KEYS.has(k)) Object.defineProperty(out, k, { value: v as JsonValue, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

export interface RetryOptions {
  /** Attempts after the first. Default 5. */
  readonly retries?: number;
  /** First backoff in ms; doubles each time, with jitter. Default 10. */
  readonly baseDelayMs?: number;
  /** Largest backoff in ms. Default 1000. */
  readonly maxDelayMs?: number;
}

/**
 * Runs `fn` and runs it again when it throws `CONFLICT` (a lost optimistic race), waiting
 * 10, 20, 40 ... ms (with jitter) in between. Other errors pass through at once. After the last
 * attempt the last `ConflictError` is thrown.
 */
export async function withRetry<T>(fn: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const retries = options.retries ?? 5;
  if (!Number.isSafeInteger(retries) || retries < 0) throw new ValidationError(`retries must be a non-negative integer, got ${describeValue(retries)}`);
  const base = options.baseDelayMs ?? 10;
  const max = options.maxDelayMs ?? 1000;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (!isCseError(e, 'CONFLICT') || attempt >= retries) throw e;
      const delay = Math.min(max, base * 2 ** attempt) * (0.5 + Math.random() / 2);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
