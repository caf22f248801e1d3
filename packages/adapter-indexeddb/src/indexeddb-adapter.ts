import { wrap } from 'idb';
import type { IDBPDatabase } from 'idb';
import { BackendError, ClosedError, assertCommitRequest, defineCapabilities, planCommit } from '@cse/core';
import type {
  AdapterCapabilities,
  CommitRequest,
  CommitResult,
  DocKey,
  IndexProbe,
  IndexSpec,
  SequenceState,
  StorageAdapter,
  StoredRecord,
} from '@cse/core';
import { IndexedDbFeed } from './change-feed.js';
import { toIndexedDbError } from './errors.js';
import type { IndexedDbAdapterOptions } from './options.js';
import { resolveOptions } from './options.js';
import type { CseSchema } from './schema.js';
import { DOCS, IDX, INDEXES, META, SCHEMA_VERSION, SEQUENCE_KEY, hasSchema, upgradeSchema } from './schema.js';
import * as indexes from './indexes.js';
import { BulkChooser, Replan, bulkWrite } from './bulk-write.js';

type Db = IDBPDatabase<CseSchema>;

const EMPTY_SEQUENCE: SequenceState = { lastSyncId: 0, compactedThrough: 0 };
/** `getAll`'s count is an unsigned long. */
const MAX_COUNT = 2 ** 32 - 1;
/** An array sorts above every number, so `[c, ABOVE]` bounds all of collection `c`. */
const ABOVE: [] = [];

/**
 * Runs `body` against `tx` and resolves once the transaction has committed. If `body` fails,
 * the transaction is aborted so nothing it wrote lands. Awaiting `tx.done` beside `body` also
 * keeps an aborted transaction's rejection from going unhandled.
 */
async function settle<T>(tx: { done: Promise<void>; abort(): void }, body: () => Promise<T>): Promise<T> {
  const work = body().catch((e: unknown) => {
    try {
      tx.abort();
    } catch {
      // already committed or aborted
    }
    throw e;
  });
  const [value] = await Promise.all([work, tx.done]);
  return value;
}

/**
 * A CSE store in one IndexedDB database (see `schema.ts` for the layout). Every commit is one
 * `readwrite` transaction over `docs` and `meta`, so reads, checks, id allocation and writes are
 * one unit, also between tabs: IndexedDB runs transactions with overlapping scopes one at a time.
 * The connection opens in the constructor; `ready()` reports how that went.
 */
export class IndexedDbAdapter implements StorageAdapter {
  readonly capabilities: Readonly<AdapterCapabilities> = defineCapabilities({
    persistent: true,
    multiProcess: true,
    compaction: true,
    changeFeed: true,
    sequencedChanges: true,
    indexes: true,
  });
  /** The database name (the namespace). */
  readonly name: string;
  readonly #durability: IDBTransactionDurability;
  readonly #db: Promise<Db>;
  readonly #feed: IndexedDbFeed;
  readonly #bulk = new BulkChooser();
  /** Set once the connection is gone; the message every later call throws. */
  #closedReason: string | undefined;

  constructor(options: IndexedDbAdapterOptions) {
    const { name, factory, durability } = resolveOptions(options);
    this.name = name;
    this.#durability = durability;
    this.#db = this.#open(factory);
    // Failures reach the caller through ready() and every method, not as unhandled rejections.
    this.#db.catch(() => undefined);
    this.#feed = new IndexedDbFeed(name, async () => (await this.sequence()).lastSyncId);
  }

  async #open(factory: IDBFactory): Promise<Db> {
    let raw: IDBDatabase;
    try {
      const request = factory.open(this.name, SCHEMA_VERSION);
      request.addEventListener('upgradeneeded', (event) => upgradeSchema(request.result, event.oldVersion));
      raw = await new Promise<IDBDatabase>((resolve, reject) => {
        request.addEventListener('success', () => resolve(request.result));
        request.addEventListener('error', () => reject(request.error ?? new Error('open failed')));
      });
    } catch (e) {
      throw toIndexedDbError(e, `opening IndexedDB database ${JSON.stringify(this.name)} failed`);
    }
    if (!hasSchema(raw)) {
      raw.close();
      throw new BackendError(`IndexedDB database ${JSON.stringify(this.name)} exists but is not a CSE store`);
    }
    // A newer tab wants to upgrade or delete the database: step aside instead of blocking it.
    raw.addEventListener('versionchange', (event) => {
      this.#closedReason ??=
        event.newVersion === null
          ? `another tab or connection deleted the IndexedDB database ${JSON.stringify(this.name)}`
          : `another tab or connection upgraded the IndexedDB database ${JSON.stringify(this.name)} to version ${event.newVersion}; reload to use it`;
      raw.close();
    });
    // The browser closed the connection itself (storage cleared by the user, disk failure).
    raw.addEventListener('close', () => {
      this.#closedReason ??= `the browser closed the IndexedDB database ${JSON.stringify(this.name)}`;
    });
    return wrap(raw) as unknown as Db;
  }

  /** Resolves once the database is open; rejects with the open error (`BACKEND`, e.g. a `VersionError`). */
  async ready(): Promise<void> {
    await this.#db;
  }

  async #run<T>(what: string, body: (db: Db) => Promise<T>): Promise<T> {
    if (this.#closedReason !== undefined) throw new ClosedError(this.#closedReason);
    const db = await this.#db;
    try {
      if (this.#closedReason !== undefined) throw new ClosedError(this.#closedReason);
      return await body(db);
    } catch (e) {
      if (e instanceof Replan) throw e; // not a failure: the commit goes again the classic way
      throw toIndexedDbError(e, what, this.#closedReason);
    }
  }

  async commit(request: CommitRequest): Promise<CommitResult> {
    const result = await this.#write(request);
    // After `complete`: whoever is woken reads a transaction that sees this one.
    // Records come with consecutive, ascending sync ids: the last is the highest.
    if (result.ok && result.records.length > 0) this.#feed.committed(result.records[result.records.length - 1]!.syncId);
    return result;
  }

  async #write(request: CommitRequest): Promise<CommitResult> {
    // A malformed request is VALIDATION before the choice of path looks at it.
    assertCommitRequest(request);
    if (this.#bulk.wants(request)) {
      try {
        return await this.#commitTx(request, true);
      } catch (e) {
        if (!(e instanceof Replan)) throw e;
        this.#bulk.learn(request.writes.length, request.writes.length);
      }
    }
    return this.#commitTx(request, false);
  }

  /** One commit transaction: the classic way (read every previous record first), or `bulk` (see `bulk-write.ts`). */
  #commitTx(request: CommitRequest, bulk: boolean): Promise<CommitResult> {
    return this.#run('commit failed', (db) => {
      const tx = db.transaction([DOCS, META, INDEXES, IDX], 'readwrite', { durability: this.#durability });
      const docs = tx.objectStore(DOCS);
      const meta = tx.objectStore(META);
      // Only this transaction's own requests are awaited in here: anything else would let it auto-commit.
      return settle(tx, async () => {
        const collections = request.writes.map((w) => w.collection);
        if (bulk) {
          const [seq, declared] = await Promise.all([meta.get(SEQUENCE_KEY), indexes.declaredFields(tx, collections)]);
          // Declared indexes need every previous record: the classic way, in this same transaction.
          if (declared.size === 0) {
            const done = await bulkWrite(tx, request, seq ?? EMPTY_SEQUENCE);
            this.#bulk.learn(request.writes.length, done.taken);
            return done.result;
          }
        }
        const [seq, prevs, declared] = await Promise.all([
          meta.get(SEQUENCE_KEY),
          Promise.all(request.writes.map((w) => docs.get([w.collection, w.id]))),
          indexes.declaredFields(tx, collections),
        ]);
        const current = seq ?? EMPTY_SEQUENCE;
        const { result, lastSyncId } = planCommit(request, prevs, current.lastSyncId);
        if (!result.ok || result.records.length === 0) return result;
        await Promise.all([
          ...result.records.map((record) => docs.put(record)),
          ...indexes.moveEntries(tx, declared, prevs, result.records),
          meta.put({ lastSyncId, compactedThrough: current.compactedThrough }, SEQUENCE_KEY),
        ]);
        return result;
      });
    });
  }

  getMany(keys: readonly DocKey[]): Promise<(StoredRecord | undefined)[]> {
    return this.#run('getMany failed', (db) => {
      if (keys.length === 0) return Promise.resolve([]);
      const tx = db.transaction(DOCS, 'readonly');
      return settle(tx, () => Promise.all(keys.map((k) => tx.store.get([k.collection, k.id]))));
    });
  }

  scanCollection(collection: string): Promise<StoredRecord[]> {
    return this.#run('scanCollection failed', (db) => {
      const range = IDBKeyRange.bound([collection], [collection, ABOVE]);
      return db.getAllFromIndex(DOCS, 'byCollection', range);
    });
  }

  changes(after: number, options: { readonly limit: number; readonly collections?: readonly string[] }): Promise<StoredRecord[]> {
    return this.#run('changes failed', (db) => {
      const limit = Math.min(options.limit, MAX_COUNT);
      if (!(limit >= 1) || options.collections?.length === 0) return Promise.resolve([]);
      if (options.collections === undefined) {
        return db.getAllFromIndex(DOCS, 'bySyncId', IDBKeyRange.lowerBound(after, true), limit);
      }
      // One range per wanted collection, each at most `limit` long, merged: O(collections x limit).
      const tx = db.transaction(DOCS, 'readonly');
      const index = tx.store.index('byCollection');
      const wanted = [...new Set(options.collections)];
      return settle(tx, async () => {
        const parts = await Promise.all(wanted.map((c) => index.getAll(IDBKeyRange.bound([c, after], [c, ABOVE], true), limit)));
        return parts.flat().sort((a, b) => a.syncId - b.syncId).slice(0, limit);
      });
    });
  }

  /** The page and the counter record in one read-only transaction over both stores. */
  changesWithSequence(after: number, options: { readonly limit: number; readonly collections?: readonly string[] }): Promise<{ records: StoredRecord[]; sequence: SequenceState }> {
    return this.#run('changes failed', (db) => {
      const limit = Math.min(options.limit, MAX_COUNT);
      const tx = db.transaction([DOCS, META], 'readonly');
      const docs = tx.objectStore(DOCS);
      const wanted = options.collections === undefined ? undefined : [...new Set(options.collections)];
      return settle(tx, async () => {
        const seq = tx.objectStore(META).get(SEQUENCE_KEY);
        let records: StoredRecord[];
        if (!(limit >= 1) || wanted?.length === 0) records = [];
        else if (wanted === undefined) records = await docs.index('bySyncId').getAll(IDBKeyRange.lowerBound(after, true), limit);
        else {
          const index = docs.index('byCollection');
          const parts = await Promise.all(wanted.map((c) => index.getAll(IDBKeyRange.bound([c, after], [c, ABOVE], true), limit)));
          records = parts.flat().sort((a, b) => a.syncId - b.syncId).slice(0, limit);
        }
        return { records, sequence: (await seq) ?? EMPTY_SEQUENCE };
      });
    });
  }

  listCollections(): Promise<string[]> {
    return this.#run('listCollections failed', (db) => {
      const tx = db.transaction(DOCS, 'readonly');
      return settle(tx, async () => {
        const names: string[] = [];
        let cursor = await tx.store.index('byCollection').openKeyCursor();
        while (cursor) {
          const name = cursor.key[0];
          names.push(name);
          // Jump past the rest of this collection: one seek per collection, not one step per record.
          cursor = await cursor.continue([name, ABOVE] as unknown as [string, number]);
        }
        return names;
      });
    });
  }

  sequence(): Promise<SequenceState> {
    return this.#run('sequence failed', async (db) => (await db.get(META, SEQUENCE_KEY)) ?? EMPTY_SEQUENCE);
  }

  compact(through: number): Promise<number> {
    return this.#run('compact failed', (db) => {
      const tx = db.transaction([DOCS, META], 'readwrite', { durability: this.#durability });
      const meta = tx.objectStore(META);
      return settle(tx, async () => {
        let removed = 0;
        let cursor = await tx.objectStore(DOCS).index('bySyncId').openCursor(IDBKeyRange.upperBound(through));
        while (cursor) {
          if (cursor.value.deleted) {
            await cursor.delete();
            removed++;
          }
          cursor = await cursor.continue();
        }
        const current = (await meta.get(SEQUENCE_KEY)) ?? EMPTY_SEQUENCE;
        if (through > current.compactedThrough) await meta.put({ ...current, compactedThrough: through }, SEQUENCE_KEY);
        return removed;
      });
    });
  }

  /** One transaction over the documents and the index stores: an atomic build (see `indexes.ts`). */
  createIndex(collection: string, field: string): Promise<void> {
    return this.#run('createIndex failed', (db) => indexes.createIndex(db, this.#durability, collection, field));
  }

  dropIndex(collection: string, field: string): Promise<void> {
    return this.#run('dropIndex failed', (db) => indexes.dropIndex(db, this.#durability, collection, field));
  }

  listIndexes(): Promise<IndexSpec[]> {
    return this.#run('listIndexes failed', (db) => indexes.listIndexes(db));
  }

  findIndexed(collection: string, probes: readonly IndexProbe[]): Promise<StoredRecord[] | undefined> {
    return this.#run('findIndexed failed', (db) => indexes.findIndexed(db, collection, probes));
  }

  /**
   * Listeners hear this connection's commits at once, and other connections' (tabs, workers)
   * through a `BroadcastChannel` named after the database, or a 100 ms poll of the counter
   * where `BroadcastChannel` is missing. See the README's Live changes section.
   */
  subscribe(listener: () => void): () => void {
    return this.#feed.subscribe(listener);
  }

  async close(): Promise<void> {
    this.#closedReason ??= `the IndexedDB adapter for ${JSON.stringify(this.name)} is closed`;
    this.#feed.close();
    try {
      (await this.#db).close();
    } catch {
      // never opened: nothing to release
    }
  }
}
