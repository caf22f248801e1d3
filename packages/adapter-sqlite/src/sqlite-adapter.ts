import BetterSqlite3 from 'better-sqlite3';
import type { Database, Transaction } from 'better-sqlite3';
import type {
  AdapterCapabilities,
  CommitRequest,
  CommitResult,
  DocKey,
  IndexProbe,
  IndexSpec,
  JsonObject,
  SequenceState,
  StorageAdapter,
  StoredRecord,
} from '@cse/core';
import { ClosedError, CommitListeners, defineCapabilities, planCommit, toBackendError } from '@cse/core';
import type { SqliteAdapterOptions } from './options.js';
import { resolveOptions } from './options.js';
import type { DocRow, MetaRow, Statements } from './statements.js';
import { SCHEMA, prepareStatements } from './statements.js';
import { SqliteIndexes } from './indexes.js';

function toRecord(row: DocRow): StoredRecord {
  return {
    collection: row.collection,
    id: row.id,
    syncId: row.sync_id,
    version: row.version,
    deleted: row.deleted === 1,
    doc: JSON.parse(row.doc) as JsonObject,
  };
}

type ChangesArgs = { readonly limit: number; readonly collections?: readonly string[] };

/** A commit waiting for the next group. */
interface QueuedCommit {
  readonly request: CommitRequest;
  readonly resolve: (result: CommitResult) => void;
  readonly reject: (error: unknown) => void;
}

/** A request of a group that threw (its savepoint rolled back; the others commit). */
class Failed {
  constructor(readonly error: unknown) {}
}

type Outcome = CommitResult | Failed;

/** Thrown inside a commit transaction (rolling it back) when an optimistic insert met an existing row. */
const TAKEN = new Error('a document of the batch exists: commit again with reads');
/** Reads as "no stored record" for every write (`planCommit` indexes it). */
const NO_PREVS: readonly (StoredRecord | undefined)[] = [];

/** True when every write is a `put` that expects no live document (a batch of inserts). */
function onlyNewDocuments(request: CommitRequest): boolean {
  if (request.writes.length === 0) return false;
  for (const w of request.writes) if (w.kind !== 'put' || w.expect?.kind !== 'absent') return false;
  return true;
}

/** True for SQLite's "another connection holds the lock" errors. */
function isBusy(e: unknown): boolean {
  const code = String((e as { code?: unknown } | null)?.code);
  return code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED');
}

/** Runs `fn` again while SQLite answers SQLITE_BUSY/SQLITE_LOCKED, for at most `timeoutMs`. */
function whileBusy(timeoutMs: number, fn: () => void): void {
  const deadline = Date.now() + timeoutMs;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let wait = 1; ; wait = Math.min(wait * 2, 50)) {
    try {
      fn();
      return;
    } catch (e) {
      if (!isBusy(e) || Date.now() >= deadline) throw e;
      Atomics.wait(pause, 0, 0, wait); // the constructor is synchronous, as better-sqlite3 is
    }
  }
}

/** True when the tables, the sync_id index and the counter row are all there (reads only). */
function schemaReady(db: Database): boolean {
  const names = db.prepare<[], number>("SELECT count(*) FROM sqlite_master WHERE name IN ('cse_meta', 'cse_docs', 'cse_docs_sync_id')").pluck().get();
  return names === 3 && db.prepare<[], number>('SELECT count(*) FROM cse_meta WHERE singleton = 1').pluck().get() === 1;
}

function openDatabase(path: string): Database {
  try {
    return new BetterSqlite3(path);
  } catch (e) {
    throw toBackendError(e, `opening SQLite database ${JSON.stringify(path)} failed`);
  }
}

/**
 * A CSE store in one SQLite file, through better-sqlite3. Every commit is one `BEGIN IMMEDIATE`
 * transaction that reads the counter, plans, and writes records and counter together, so
 * several processes can share the file: SQLite serialises their commits, and sync ids follow
 * commit order.
 */
export class SqliteAdapter implements StorageAdapter {
  readonly capabilities: Readonly<AdapterCapabilities>;

  readonly #db: Database;
  readonly #ownsDatabase: boolean;
  readonly #sql: Statements;
  readonly #commitTx: Transaction<(request: CommitRequest, optimistic: boolean) => CommitResult>;
  readonly #groupTx: Transaction<(requests: readonly CommitRequest[]) => Outcome[]>;
  readonly #groupCommit: boolean;
  #queue: QueuedCommit[] = [];
  readonly #busyTimeout: number;
  /** While another connection holds the write lock: since when the queued commits have waited, and the pause before the next try. */
  #lockWait: { since: number; pause: number } | undefined;
  readonly #readTx: Transaction<(keys: readonly DocKey[]) => (StoredRecord | undefined)[]>;
  readonly #compactTx: Transaction<(through: number) => number>;
  readonly #pageTx: Transaction<(after: number, options: ChangesArgs) => { records: StoredRecord[]; sequence: SequenceState }>;
  readonly #indexes: SqliteIndexes;
  readonly #indexTx: Transaction<(collection: string, probes: readonly IndexProbe[]) => StoredRecord[] | undefined>;
  readonly #watchIntervalMs: number;
  readonly #listeners = new CommitListeners();
  #watchTimer: ReturnType<typeof setInterval> | undefined;
  /** The counter as this adapter last saw it (own commit or a check); a change means new commits. */
  #seenSyncId = -1;
  #closed = false;

  /** @throws `VALIDATION` for bad options, `BACKEND` when the database cannot be opened or set up. */
  constructor(options: SqliteAdapterOptions) {
    const opts = resolveOptions(options);
    this.#ownsDatabase = opts.database === undefined;
    const db = opts.database ?? openDatabase(opts.path as string);
    try {
      // Pragmas take no bound parameters; both values were checked by resolveOptions (an
      // integer, a word from a fixed set). busy_timeout goes first so that the WAL switch and
      // the schema wait for other processes opening the same file at the same moment.
      db.pragma(`busy_timeout = ${opts.busyTimeout}`);
      // SQLite does not always call the busy handler while another connection switches the
      // journal mode or recovers the WAL index: those steps retry by hand, within busyTimeout.
      whileBusy(opts.busyTimeout, () => {
        if (db.pragma('journal_mode', { simple: true }) !== 'wal') db.pragma('journal_mode = WAL');
      });
      db.pragma(`synchronous = ${opts.synchronous}`);
      // A store that exists needs no write: opening it beside busy writers takes no write lock
      // (the schema statements would, even when they change nothing).
      whileBusy(opts.busyTimeout, () => {
        if (!schemaReady(db)) db.transaction(() => db.exec(SCHEMA)).immediate();
      });
      this.#sql = prepareStatements(db);
    } catch (e) {
      if (this.#ownsDatabase) db.close();
      throw toBackendError(e, 'setting up the SQLite database failed');
    }
    this.#db = db;
    this.#watchIntervalMs = opts.watchIntervalMs;
    this.#commitTx = db.transaction((request: CommitRequest, optimistic: boolean) => this.#commitInside(request, optimistic));
    this.#groupTx = db.transaction((requests: readonly CommitRequest[]) => this.#groupInside(requests));
    this.#groupCommit = opts.groupCommit;
    this.#busyTimeout = opts.busyTimeout;
    this.#readTx = db.transaction((keys: readonly DocKey[]) => keys.map((k) => this.#get(k)));
    this.#compactTx = db.transaction((through: number) => this.#compactInside(through));
    this.#pageTx = db.transaction((after: number, options: ChangesArgs) => {
      const meta = this.#meta();
      return { records: this.#changesInside(after, options), sequence: { lastSyncId: meta.last_sync_id, compactedThrough: meta.compacted_through } };
    });
    this.#indexes = new SqliteIndexes(db);
    this.#indexTx = db.transaction((collection: string, probes: readonly IndexProbe[]) => this.#indexes.find(collection, probes)?.map(toRecord));
    const onDisk = !db.memory;
    this.capabilities = defineCapabilities({
      persistent: onDisk,
      crashSafe: onDisk,
      multiProcess: onDisk,
      compaction: true,
      changeFeed: true,
      sequencedChanges: true,
      indexes: true,
    });
  }

  #run<T>(what: string, fn: () => T): T {
    if (this.#closed) throw new ClosedError('the SQLite adapter is closed');
    try {
      return fn();
    } catch (e) {
      throw toBackendError(e, `SQLite ${what} failed`);
    }
  }

  #get(key: DocKey): StoredRecord | undefined {
    const row = this.#sql.get.get(key.collection, key.id);
    return row && toRecord(row);
  }

  #meta(): MetaRow {
    return this.#sql.meta.get() as MetaRow;
  }

  #commitInside(request: CommitRequest, optimistic: boolean): CommitResult {
    if (optimistic && onlyNewDocuments(request)) return this.#insertInside(request);
    const prevs = request.writes.map((w) => this.#get(w));
    const last = this.#meta().last_sync_id;
    const plan = planCommit(request, prevs, last);
    if (!plan.result.ok) return plan.result;
    for (const r of plan.result.records) {
      this.#sql.upsert.run(r.collection, r.id, r.syncId, r.version, r.deleted ? 1 : 0, JSON.stringify(r.doc));
    }
    if (plan.lastSyncId !== last) this.#sql.setLastSyncId.run(plan.lastSyncId);
    return plan.result;
  }

  /**
   * Every write inserts a new document (`put`, expecting absence): planned as if none existed,
   * written without reading first. If a row exists after all (a live document, or a tombstone
   * whose version must carry on), it throws `TAKEN`, which rolls the transaction back, and
   * `commit` runs it again the careful way (read every record, then plan).
   */
  #insertInside(request: CommitRequest): CommitResult {
    // One statement takes the ids (read and write of the counter); a rollback gives them back.
    const n = request.writes.length;
    const last = (this.#sql.takeIds.get(n) as { last_sync_id: number }).last_sync_id - n;
    const plan = planCommit(request, NO_PREVS, last);
    if (!plan.result.ok) throw TAKEN; // cannot happen: nothing stored meets "absent"
    const insert = this.#sql.insertNew;
    for (const r of plan.result.records) {
      if (insert.run(r.collection, r.id, r.syncId, r.version, 0, JSON.stringify(r.doc)).changes === 0) throw TAKEN;
    }
    return plan.result;
  }

  #compactInside(through: number): number {
    const removed = this.#sql.compact.run(through).changes;
    this.#sql.raiseCompactedThrough.run(through);
    return removed;
  }

  async commit(request: CommitRequest): Promise<CommitResult> {
    if (!this.#groupCommit) return this.#commitAlone(request);
    if (this.#closed) throw new ClosedError('the SQLite adapter is closed');
    // Group commit: the commits called before the event loop turns share one transaction (and
    // one fsync at FULL). better-sqlite3 blocks the thread while it commits, so the commits of
    // concurrent writers pile up behind each group and go together in the next one.
    return new Promise<CommitResult>((resolve, reject) => {
      this.#queue.push({ request, resolve, reject });
      if (this.#queue.length === 1) setImmediate(this.#flush);
    });
  }

  /** One commit in its own transaction (a group of one, or `groupCommit: false`). */
  #commitAlone(request: CommitRequest): CommitResult {
    // IMMEDIATE takes the write lock before the counter is read, so two processes can never
    // plan from the same counter value; the busy timeout makes the second one wait its turn.
    const result = this.#run('commit', () => this.#commitOne(request));
    this.#committed([result]);
    return result;
  }

  /**
   * Commits the queued requests in one IMMEDIATE transaction. Each runs in its own savepoint
   * (a nested better-sqlite3 transaction) and plans against the counter and records as the
   * earlier ones left them, so each keeps its own preconditions and outcome: a CONFLICT writes
   * nothing and fails no other, an error rolls back only its own savepoint. An error of the
   * transaction itself (the lock, the fsync) fails every request of the group.
   *
   * The write lock is waited for on a timer, not in SQLite's busy handler: that handler sleeps
   * on this thread, so while another process on the same file kept the lock, every session an
   * Edge serves stood still (D1: event-loop stalls of seconds while a writer process reported at
   * 1,000/s). The first try takes the lock only if it is free (`busy_timeout` 0 for that BEGIN;
   * a BUSY there has executed nothing); otherwise the group stays queued, newer commits join it,
   * and the lock is tried again after 1 ms, doubling to 16 ms. Once `busyTimeout` has passed
   * since the first try, the commit waits in SQLite's busy handler as before, and fails as before.
   */
  readonly #flush = (): void => {
    const group = this.#queue;
    this.#queue = [];
    if (this.#closed) {
      for (const q of group) q.reject(new ClosedError('the SQLite adapter is closed'));
      return;
    }
    const wait = this.#lockWait;
    const onTimer = wait === undefined || Date.now() - wait.since < this.#busyTimeout;
    let outcomes: Outcome[];
    try {
      if (onTimer) this.#db.pragma('busy_timeout = 0');
      try {
        outcomes = group.length === 1 ? [this.#commitOne((group[0] as QueuedCommit).request)] : this.#groupTx.immediate(group.map((q) => q.request));
      } finally {
        if (onTimer) this.#db.pragma(`busy_timeout = ${this.#busyTimeout}`);
      }
    } catch (e) {
      if (onTimer && isBusy(e)) {
        this.#queue = [...group, ...this.#queue];
        const next = wait ?? { since: Date.now(), pause: 0 };
        next.pause = Math.min(Math.max(next.pause * 2, 1), 16);
        this.#lockWait = next;
        setTimeout(this.#flush, next.pause);
        return;
      }
      this.#lockWait = undefined;
      const error = toBackendError(e, 'SQLite commit failed');
      for (const q of group) q.reject(error);
      return;
    }
    this.#lockWait = undefined;
    this.#committed(outcomes.filter((o): o is CommitResult => !(o instanceof Failed)));
    group.forEach((q, i) => {
      const o = outcomes[i] as Outcome;
      if (o instanceof Failed) q.reject(toBackendError(o.error, 'SQLite commit failed'));
      else q.resolve(o);
    });
  };

  /** One commit in its own IMMEDIATE transaction (errors as SQLite threw them). */
  #commitOne(request: CommitRequest): CommitResult {
    try {
      return this.#commitTx.immediate(request, true);
    } catch (e) {
      if (e !== TAKEN) throw e;
      return this.#commitTx.immediate(request, false);
    }
  }

  #groupInside(requests: readonly CommitRequest[]): Outcome[] {
    return requests.map((request) => {
      try {
        try {
          return this.#commitTx(request, true);
        } catch (e) {
          if (e !== TAKEN) throw e;
          return this.#commitTx(request, false);
        }
      } catch (e) {
        return new Failed(e);
      }
    });
  }

  /** Committed and visible: wake at once. Our ids are the highest so far, so the next check only fires for commits after them. */
  #committed(results: readonly CommitResult[]): void {
    let woke = false;
    for (const r of results) {
      if (!r.ok || r.records.length === 0) continue;
      this.#seenSyncId = Math.max(this.#seenSyncId, r.records[r.records.length - 1]!.syncId);
      woke = true;
    }
    if (woke) this.#listeners.notify();
  }

  async getMany(keys: readonly DocKey[]): Promise<(StoredRecord | undefined)[]> {
    // One read transaction, so that another process's commit cannot land between two reads.
    return this.#run('read', () => this.#readTx.deferred(keys));
  }

  async scanCollection(collection: string): Promise<StoredRecord[]> {
    return this.#run('scan', () => this.#sql.scan.all(collection).map(toRecord));
  }

  #changesInside(after: number, options: ChangesArgs): StoredRecord[] {
    const rows =
      options.collections === undefined
        ? this.#sql.changes.all(after, options.limit)
        : this.#sql.changesIn.all(after, JSON.stringify(options.collections), options.limit);
    return rows.map(toRecord);
  }

  async changes(after: number, options: ChangesArgs): Promise<StoredRecord[]> {
    return this.#run('changes read', () => this.#changesInside(after, options));
  }

  /** The page and the counter row in one read transaction: no commit lands between them. */
  async changesWithSequence(after: number, options: ChangesArgs): Promise<{ records: StoredRecord[]; sequence: SequenceState }> {
    return this.#run('changes read', () => this.#pageTx.deferred(after, options));
  }

  async listCollections(): Promise<string[]> {
    return this.#run('collection list', () => this.#sql.collections.all().map((r) => r.collection));
  }

  async sequence(): Promise<SequenceState> {
    return this.#run('sequence read', () => {
      const meta = this.#meta();
      return { lastSyncId: meta.last_sync_id, compactedThrough: meta.compacted_through };
    });
  }

  async compact(through: number): Promise<number> {
    return this.#run('compaction', () => this.#compactTx.immediate(through));
  }

  /** An expression index, built in one transaction (atomic): see `indexes.ts`. */
  async createIndex(collection: string, field: string): Promise<void> {
    this.#run('createIndex', () => this.#indexes.create(collection, field));
  }

  async dropIndex(collection: string, field: string): Promise<void> {
    this.#run('dropIndex', () => this.#indexes.drop(collection, field));
  }

  async listIndexes(): Promise<IndexSpec[]> {
    return this.#run('listIndexes', () => this.#indexes.list());
  }

  async findIndexed(collection: string, probes: readonly IndexProbe[]): Promise<StoredRecord[] | undefined> {
    return this.#run('index read', () => this.#indexTx.deferred(collection, probes));
  }

  /**
   * Own commits notify at once. Commits of other processes (or other connections in this
   * process) are seen by reading the counter row every `watchIntervalMs` while at least one
   * listener exists. The counter and not `PRAGMA data_version`: data_version does not change for
   * commits made on this same connection, and a `database` handed in may serve other adapters
   * too. The timer is ref'd on purpose: a process that watches stays alive, as it does with
   * core's polling.
   */
  subscribe(listener: () => void): () => void {
    if (this.#closed) return () => undefined;
    const remove = this.#listeners.add(listener);
    if (this.#watchTimer === undefined) {
      this.#seenSyncId = this.#counterNow() ?? -1;
      this.#watchTimer = setInterval(() => this.#check(), this.#watchIntervalMs);
    }
    return () => {
      remove();
      if (this.#listeners.size === 0) this.#stopWatching();
    };
  }

  #counterNow(): number | undefined {
    try {
      return this.#meta().last_sync_id;
    } catch {
      return undefined; // busy or closed underneath us: the next check tries again
    }
  }

  #check(): void {
    if (this.#closed || !this.#db.open) return this.#stopWatching();
    const now = this.#counterNow();
    if (now === undefined || now === this.#seenSyncId) return;
    this.#seenSyncId = now;
    this.#listeners.notify();
  }

  #stopWatching(): void {
    if (this.#watchTimer !== undefined) clearInterval(this.#watchTimer);
    this.#watchTimer = undefined;
  }

  /**
   * Closes the database if the adapter opened it from `path`. A database handed in as
   * `database` stays open: its owner closes it. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners.clear();
    this.#stopWatching();
    if (!this.#ownsDatabase) return;
    try {
      this.#db.close();
    } catch (e) {
      throw toBackendError(e, 'closing the SQLite database failed');
    }
  }
}
