/**
 * The storage adapter contract: what a backend package implements.
 *
 * An adapter is small and async. It knows nothing of queries, validation, metadata rules or the
 * CSE components: the Store in `@cse/core` does all of that once for every backend. An adapter
 * keeps records, commits batches atomically and hands out `_sync_id`s from one durable counter.
 *
 * | member | required | what it is for |
 * |---|---|---|
 * | `capabilities` | yes | frozen flags saying what the adapter can do |
 * | `commit` | yes | the only write: one atomic batch with preconditions and id allocation |
 * | `getMany` | yes | consistent multi-get |
 * | `scanCollection` | yes | every record of one collection (for `find`) |
 * | `changes` | yes | records by `_sync_id`, the delta read |
 * | `listCollections` | yes | names of collections that hold records |
 * | `sequence` | yes | the counter and the compaction watermark |
 * | `changesWithSequence` | if `capabilities.sequencedChanges` | a delta page and the counter in one read |
 * | `compact` | if `capabilities.compaction` | drop old tombstones |
 * | `subscribe` | if `capabilities.changeFeed` | tell core the store may have new commits |
 * | `createIndex`, `dropIndex`, `listIndexes`, `findIndexed` | if `capabilities.indexes` | secondary indexes for `find` (see `indexes.ts`) |
 * | `close` | yes | release the backend |
 *
 * The helper `planCommit` (in `records.ts`) turns the stored records a commit reads into the
 * records it writes, so an adapter's `commit` is: read, plan, write, inside one atomic unit.
 */

import type { IndexProbe, IndexSpec } from './index-types.js';

/** A JSON value as CSE stores it. */
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
/** A JSON object. */
export interface JsonObject {
  [key: string]: JsonValue;
}

/** Names one document. */
export interface DocKey {
  readonly collection: string;
  readonly id: string;
}

/**
 * One document as the adapter stores it: the current state of `collection`/`id`, either live or
 * a tombstone. Adapters store `doc` (JSON) and may keep `syncId` in an index; the other fields
 * are copies of `doc`'s metadata, kept beside it so nobody has to parse to find them.
 */
export interface StoredRecord {
  readonly collection: string;
  readonly id: string;
  /** `_sync_id` of the write that produced this state. */
  readonly syncId: number;
  /** `_version`: 1 on first insert, +1 on every accepted write (deletes included). */
  readonly version: number;
  /** True for a tombstone. */
  readonly deleted: boolean;
  /**
   * The whole document, metadata included: `id`, `_sync_id`, `_version`, `_created_at`,
   * `_updated_at`, and for a tombstone `_deleted: true` and `_deleted_at` (a tombstone keeps no
   * user fields).
   */
  readonly doc: JsonObject;
}

/** A precondition on the stored state of one document, checked inside the commit. */
export type Expectation =
  /** No live document: missing, or a tombstone. */
  | { readonly kind: 'absent' }
  /** A live document, any version. */
  | { readonly kind: 'exists' }
  /** A live document whose `_version` is exactly `version`. */
  | { readonly kind: 'version'; readonly version: number };

/** One write of a commit. A commit names each document at most once. */
export interface WriteOp {
  readonly collection: string;
  readonly id: string;
  /**
   * - `put`: `body` becomes the live document (full replacement).
   * - `delete`: the document becomes a tombstone.
   * - `check`: nothing is written; only `expect` is checked (optimistic reads of a transaction).
   */
  readonly kind: 'put' | 'delete' | 'check';
  /** For `put`: the user fields, already validated and copied; no `_`-prefixed keys but `id`. */
  readonly body?: JsonObject;
  /** Precondition; absent means none. */
  readonly expect?: Expectation;
}

/** One atomic commit. */
export interface CommitRequest {
  readonly writes: readonly WriteOp[];
  /** Timestamp for `_created_at`/`_updated_at`/`_deleted_at` (ISO 8601, UTC). */
  readonly now: string;
}

/** Why a write of a commit failed. */
export interface CommitFailure {
  /** Index into `writes`. */
  readonly index: number;
  /** The stored record the precondition saw (a tombstone or `undefined` when there is none). */
  readonly current: StoredRecord | undefined;
}

export type CommitResult =
  /** Everything was written. `records` holds the new records of the `put` and `delete` writes, in order, with consecutive `syncId`s. */
  | { readonly ok: true; readonly records: readonly StoredRecord[] }
  /** Nothing was written: every precondition that failed. */
  | { readonly ok: false; readonly failures: readonly CommitFailure[] };

/** The counter state of a store. */
export interface SequenceState {
  /** The highest `_sync_id` ever handed out (0 for a new store). Never decreases. */
  readonly lastSyncId: number;
  /** Tombstones with `syncId <= compactedThrough` may be gone; cursors below it must reset. 0 if never compacted. */
  readonly compactedThrough: number;
}

/**
 * What an adapter can do. A frozen plain object; every flag defaults to `false` when an adapter
 * leaves it out (use `defineCapabilities`). A flag is never repurposed: new behaviour, new flag.
 * The conformance suite runs the tests of a capability only when it is declared, reports the
 * others as skipped with their reason, and checks that a declared capability really works.
 */
export interface AdapterCapabilities {
  /** Records survive `close()` and a new adapter opened on the same location. Default `false`. */
  readonly persistent: boolean;
  /** Acknowledged commits survive a SIGKILL of the process, and a killed commit is whole or absent. Default `false`. */
  readonly crashSafe: boolean;
  /** Several processes (or clients) may open one store and commit at once. Default `false`. */
  readonly multiProcess: boolean;
  /** `compact()` is implemented. Without it `Store.compact` throws `UNSUPPORTED`. Default `false`. */
  readonly compaction: boolean;
  /**
   * `subscribe()` is implemented: the adapter signals commits (of this process and, where
   * `multiProcess`, of others) so `Store.watch` wakes without polling. Without it the Store polls
   * `sequence()` while someone watches (`StoreOptions.pollIntervalMs`). Default `false`.
   */
  readonly changeFeed: boolean;
  /**
   * `changesWithSequence()` is implemented: a delta page and the counter state come from one
   * consistent read (one transaction, snapshot or script), so `changesSince` costs one backend
   * read instead of two. Without it the Store calls `sequence()`, then `changes()`. Default `false`.
   */
  readonly sequencedChanges: boolean;
  /**
   * `createIndex`, `dropIndex`, `listIndexes` and `findIndexed` are implemented: the adapter
   * keeps secondary indexes declared with `Store.createIndex` and `find` reads through them.
   * Without it `Store.createIndex` throws `UNSUPPORTED` and `find` scans the collection.
   * Default `false`.
   */
  readonly indexes: boolean;
}

/** Fills defaults (`false`) and freezes. */
export function defineCapabilities(caps: Partial<AdapterCapabilities>): Readonly<AdapterCapabilities> {
  return Object.freeze({
    persistent: caps.persistent ?? false,
    crashSafe: caps.crashSafe ?? false,
    multiProcess: caps.multiProcess ?? false,
    compaction: caps.compaction ?? false,
    changeFeed: caps.changeFeed ?? false,
    sequencedChanges: caps.sequencedChanges ?? false,
    indexes: caps.indexes ?? false,
  });
}

/**
 * The contract every backend implements.
 *
 * Common rules:
 * - Every method is async. After `close()` every method but `close` rejects with a `CLOSED`
 *   `CseError`.
 * - Errors of the backend are thrown as `BACKEND` `CseError`s with the original in `cause`
 *   (`toBackendError`). Adapters never invent other codes; a failed precondition is not an error
 *   but a `{ ok: false }` result.
 * - Records handed out are fresh objects: the Store may keep or mutate them.
 * - Collection names reaching the adapter match `/^_?[A-Za-z][A-Za-z0-9_-]{0,63}$/`; ids are
 *   non-empty strings of at most 1024 code units, and may hold any character, NUL included. The
 *   adapter must keep any two distinct (collection, id) pairs apart, whatever they contain.
 */
export interface StorageAdapter {
  /** What this adapter can do; frozen. */
  readonly capabilities: Readonly<AdapterCapabilities>;

  /**
   * Commits a batch atomically. Inside one atomic unit (a database transaction, a Lua script, an
   * IndexedDB transaction, a lock held by the process) the adapter:
   * 1. reads the stored record of every write,
   * 2. checks every `expect`; if any fails, writes nothing and returns all failures,
   * 3. takes the next `n` values of the durable counter, `n` = number of `put`/`delete` writes,
   * 4. stores the new records (as `planCommit` builds them) and the counter.
   *
   * Guarantees: all or nothing, also when the process dies at any moment (if `crashSafe`);
   * `_sync_id`s strictly increase in commit order and never repeat, across reopen and processes;
   * a record becomes visible to `changes` only together with every smaller id of its store.
   * A batch without `put`/`delete` writes takes no ids.
   *
   * @throws `CLOSED`, `BACKEND`.
   */
  commit(request: CommitRequest): Promise<CommitResult>;

  /**
   * Reads several records as one consistent snapshot (no commit is half visible). Tombstones
   * are returned; missing documents are `undefined`. Result order matches `keys`.
   *
   * @throws `CLOSED`, `BACKEND`.
   */
  getMany(keys: readonly DocKey[]): Promise<(StoredRecord | undefined)[]>;

  /**
   * Every record of one collection, tombstones included, in any order. An unknown collection
   * has no records.
   *
   * @throws `CLOSED`, `BACKEND`.
   */
  scanCollection(collection: string): Promise<StoredRecord[]>;

  /**
   * Records whose `syncId` is greater than `after`, ascending by `syncId`, at most `limit`,
   * restricted to `collections` when given. Each document appears once, in its current state.
   * Must cost O(result), not O(store): adapters keep an index on `syncId`.
   *
   * @throws `CLOSED`, `BACKEND`.
   */
  changes(after: number, options: { readonly limit: number; readonly collections?: readonly string[] }): Promise<StoredRecord[]>;

  /**
   * Names of the collections that hold at least one record (tombstones count), sorted.
   *
   * @throws `CLOSED`, `BACKEND`.
   */
  listCollections(): Promise<string[]>;

  /**
   * The counter and the compaction watermark.
   *
   * @throws `CLOSED`, `BACKEND`.
   */
  sequence(): Promise<SequenceState>;

  /**
   * Only with `capabilities.sequencedChanges`. The same records as `changes(after, options)` and
   * the same state as `sequence()`, read together from one consistent state of the store (one
   * transaction, snapshot or script): no commit lands between the two, so every returned
   * record's `syncId` is at most `sequence.lastSyncId`, and `sequence.compactedThrough` is the
   * watermark the records were read under. The Store checks the cursor against `sequence` after
   * the read, which is why one read is enough (no change can be lost between the check and the
   * page).
   *
   * @throws `CLOSED`, `BACKEND`.
   */
  changesWithSequence?(
    after: number,
    options: { readonly limit: number; readonly collections?: readonly string[] },
  ): Promise<{ readonly records: StoredRecord[]; readonly sequence: SequenceState }>;

  /**
   * Only with `capabilities.compaction`. Removes tombstones with `syncId <= through` and raises
   * `compactedThrough` to `through` (never lowers it), atomically. Returns how many were removed.
   *
   * @throws `CLOSED`, `BACKEND`.
   */
  compact?(through: number): Promise<number>;

  /**
   * Only with `capabilities.changeFeed`. Registers `listener`, to be called whenever the store
   * may have new commits: at once (or soon) after a commit of this adapter, and, where the
   * adapter is `multiProcess`, within a short bounded delay after a commit of another process
   * or client (the adapter README states the delay). After the adapter lost and regained its
   * backend (a reconnect), it calls `listener` once, since commits may have happened unseen.
   *
   * Calls may be coalesced (one call for many commits) and spurious (a call with nothing new):
   * the Store reads through `changes`, so a signal carries no data. A missing call is the one
   * thing not allowed: a watcher would stall. `listener` never throws; call it synchronously or
   * from a timer, never while holding a lock the Store could need.
   *
   * Returns a function that removes the listener (idempotent). `close()` removes them all and
   * releases every timer, socket and handle the feed used.
   */
  subscribe?(listener: () => void): () => void;

  /**
   * Only with `capabilities.indexes`. Declares an index on `field` (a path `assertIndexSpec`
   * accepts) of `collection` and builds it from the records already stored. Idempotent: an
   * index that exists stays as it is. From the moment this resolves, every commit of every
   * adapter instance and process on the store keeps the index in the same atomic unit as the
   * records (a commit never lands with its records written and its index entries not, or the
   * other way round), and `findIndexed` of every instance may answer through it. The
   * declaration is stored in the backend: it survives reopen.
   *
   * The build is either atomic (one transaction: the index is there whole or not at all) or
   * resumable (the index is declared first, so every commit maintains it, then filled; it
   * answers `findIndexed` only once filled, and a build cut short by a crash is finished by the
   * next `createIndex` call). The adapter README says which.
   *
   * What an index holds per document is `indexEntry(doc, field)` of the live record (tombstones
   * have no entries): one scalar value, one "array" entry, or none (see `indexes.ts`).
   *
   * @throws `CLOSED`, `BACKEND`.
   */
  createIndex?(collection: string, field: string): Promise<void>;

  /**
   * Only with `capabilities.indexes`. Removes the index (and its entries). No-op when there is none.
   *
   * @throws `CLOSED`, `BACKEND`.
   */
  dropIndex?(collection: string, field: string): Promise<void>;

  /**
   * Only with `capabilities.indexes`. Every index declared on the store (by any instance),
   * sorted by collection, then field.
   *
   * @throws `CLOSED`, `BACKEND`.
   */
  listIndexes?(): Promise<IndexSpec[]>;

  /**
   * Only with `capabilities.indexes`. Takes the first probe whose field has a usable index on
   * `collection` and returns, from one consistent snapshot, the records of every document whose
   * index entry lies in any of the probe's selectors (`indexKeyRange` gives them as key ranges
   * over `indexKey` keys, for key-value backends). Returns `undefined` when no probe's field is
   * indexed (the Store then scans).
   *
   * It may return more (tombstones, documents outside the selectors, the same document twice):
   * the Store applies the whole query to what it gets. It must never leave out a document whose
   * entry lies in a selector: that document would be missing from `find`. Where the backend
   * cannot order some values as `compareJson` does, widen the lookup (or return `undefined`)
   * rather than narrow it.
   *
   * @throws `CLOSED`, `BACKEND`.
   */
  findIndexed?(collection: string, probes: readonly IndexProbe[]): Promise<StoredRecord[] | undefined>;

  /** Releases the backend (and closes a client the adapter opened itself). Idempotent. */
  close(): Promise<void>;
}
