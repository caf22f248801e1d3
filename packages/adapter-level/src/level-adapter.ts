import { Mutex } from 'async-mutex';
import type { AbstractSnapshot } from 'abstract-level';
import type { AdapterCapabilities, CommitRequest, CommitResult, DocKey, IndexProbe, IndexSpec, JsonObject, SequenceState, StorageAdapter, StoredRecord } from '@cse/core';
import type { CseError } from '@cse/core';
import { BackendError, ClosedError, CommitListeners, CseError as CseErrorClass, ValidationError, isCseError, assertCollectionName, defineCapabilities, planCommit, recordFromDoc, toBackendError } from '@cse/core';
import {
  CORRUPT_KEY,
  COUNTER_KEY,
  DOCS_RANGE,
  WATERMARK_KEY,
  afterCollection,
  assertDocKey,
  collectionOfDocKey,
  collectionRange,
  decodeIndexEntry,
  docKey,
  encodeIndexEntry,
  syncKey,
  syncRangeAfter,
  syncRangeThrough,
} from './keys.js';
import type { IndexEntry } from './keys.js';
import type { IndexList } from './indexes.js';
import { buildOps, dropOps, indexOps, listSpecs, lookupIds, readIndexList } from './indexes.js';
import type { LevelAdapterOptions, LevelDatabase } from './options.js';
import { checkOptions } from './options.js';
import { acquireDirectory } from './shared-directories.js';

/** Every call names its encodings, so the database's own defaults (json, buffer...) do not matter. */
const ENC = { keyEncoding: 'utf8', valueEncoding: 'utf8' } as const;
type ReadOptions = typeof ENC & { snapshot?: AbstractSnapshot };
type BatchOp = { type: 'put'; key: string; value: string } | { type: 'del'; key: string };
/** classic-level's batch takes `sync`; other databases ignore it (abstract-level's types do not list it). */
type BatchOptions = typeof ENC & { sync: boolean };

/**
 * What every adapter of this module that opens the same key space (root database + prefix) in
 * this process shares: the commit lock (otherwise two adapters on one memory-level database
 * would race between their reads and their batches) and the listener sets of all of them (a
 * commit through one adapter wakes watchers on the others).
 */
interface KeySpace {
  readonly lock: Mutex;
  readonly feeds: Set<CommitListeners>;
  /** The declared indexes, once read; changed only under `lock` (see `indexes.ts`). */
  indexes?: IndexList;
}

const keySpaces = new WeakMap<object, Map<string, KeySpace>>();

function keySpaceOf(db: LevelDatabase): KeySpace {
  const sub = db as { db?: object; prefix?: string };
  const root = typeof sub.prefix === 'string' && sub.db !== undefined ? sub.db : db;
  const prefix = sub.prefix ?? '';
  let byPrefix = keySpaces.get(root);
  if (byPrefix === undefined) keySpaces.set(root, (byPrefix = new Map()));
  let space = byPrefix.get(prefix);
  if (space === undefined) byPrefix.set(prefix, (space = { lock: new Mutex(), feeds: new Set() }));
  return space;
}

/**
 * Databases on which a write batch failed (an I/O error such as ENOSPC). LevelDB then goes on
 * writing to a log whose torn record it will not read past on the next open, so commits it
 * acknowledges after the failure would vanish on reopen and their sync ids be handed out
 * again. Every adapter of that database refuses commits until it is opened again.
 */
const failedWrites = new WeakMap<object, Error>();
const watched = new WeakSet<object>();

function rootOf(db: LevelDatabase): LevelDatabase {
  const sub = db as { db?: LevelDatabase; prefix?: string };
  return typeof sub.prefix === 'string' && sub.db !== undefined ? sub.db : db;
}

/** Forgets a failed write once the database is opened again (abstract-level emits `open`). */
function watchReopen(root: LevelDatabase): void {
  if (watched.has(root)) return;
  watched.add(root);
  root.on('open', () => failedWrites.delete(root));
}

function openError(e: unknown, where: string): CseError {
  if (isCseError(e)) return e;
  const code = (e as { code?: unknown }).code;
  const causeCode = ((e as { cause?: { code?: unknown } }).cause ?? {}).code;
  if (code === 'LEVEL_LOCKED' || causeCode === 'LEVEL_LOCKED') {
    return new BackendError(
      `level: ${where} is locked by another process; a classic-level database serves one process at a time`,
      { cause: e },
    );
  }
  return new BackendError(`level: opening ${where} failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}

/** What an open found lost, kept in the store (`CORRUPT_KEY`) until a repair. */
interface Damage {
  /** Bytes of the write-ahead log LevelDB's recovery dropped as corrupt. */
  readonly droppedBytes: number;
  /** The counter after recovery. */
  readonly lastSyncId: number;
  /** The highest `_sync_id` of any record after recovery. */
  readonly highestRecord: number;
}

const NODE_FS = 'node:fs/promises';
const NODE_PATH = 'node:path';

/** Bytes LevelDB's recovery dropped as corrupt at this open, from its info log (`LOG`, rotated at every open). */
async function droppedAtOpen(location: string): Promise<number> {
  // Loaded at run time through variables (only with `location`, so on Node): bundles for the browser stay free of them.
  const [{ readFile }, { join }] = (await Promise.all([import(/* @vite-ignore */ NODE_FS), import(/* @vite-ignore */ NODE_PATH)])) as [
    typeof import('node:fs/promises'),
    typeof import('node:path'),
  ];
  let text: string;
  try {
    text = await readFile(join(location, 'LOG'), 'utf8');
  } catch {
    return 0;
  }
  let bytes = 0;
  // A log torn at its end by a killed process is not reported: only real damage is.
  for (const m of text.matchAll(/\.log: dropping (\d+) bytes; Corruption/g)) bytes += Number(m[1]);
  return bytes;
}

function damageMessage(where: string, d: Damage): string {
  const lost =
    d.droppedBytes > 0
      ? `LevelDB's recovery dropped ${d.droppedBytes} corrupt bytes of the write-ahead log (.log), which held committed changes`
      : `the counter stands at ${d.lastSyncId} but the newest record has _sync_id ${d.highestRecord}`;
  return (
    `level: ${where} is damaged: ${lost}. The commits after _sync_id ${d.highestRecord} may be lost, and a reader that received ` +
    `them would never see the ids handed out again. Restore a backup, or open with { repair: true } to accept the loss ` +
    `(readers then reset and rebuild)`
  );
}

const NO_SEQUENCE: SequenceState = Object.freeze({ lastSyncId: 0, compactedThrough: 0 });

function sequenceOf(last: string | undefined, compacted: string | undefined): SequenceState {
  return { lastSyncId: last === undefined ? 0 : Number(last), compactedThrough: compacted === undefined ? 0 : Number(compacted) };
}

function toRecord(collection: string, json: string): StoredRecord {
  return recordFromDoc(collection, JSON.parse(json) as JsonObject);
}

/**
 * A CSE store in an abstract-level database. See the README for options, durability and who
 * closes what.
 */
export class LevelAdapter implements StorageAdapter {
  readonly capabilities: Readonly<AdapterCapabilities> = defineCapabilities({
    persistent: true,
    crashSafe: true,
    compaction: true,
    changeFeed: true,
    sequencedChanges: true,
    indexes: true,
  });

  // Set by the first continuation of #attached, so every call that awaited it sees them.
  #db!: LevelDatabase;
  #lock!: Mutex;
  /** Gives back the directory this adapter opened from `location`; a `db` passed in is never closed. */
  #release: (() => Promise<void>) | undefined;
  readonly #batchOptions: BatchOptions;
  /** Resolves once the database object is known (for a `location`, once classic-level is loaded). */
  readonly #attached: Promise<void>;
  /** Set with `#db` (see `attach`); undefined only if the database never attached. */
  #space: KeySpace | undefined;
  readonly #listeners = new CommitListeners();
  readonly #ready: Promise<void>;
  #closing: Promise<void> | undefined;

  /** @throws `VALIDATION` for bad options. Open errors (a locked directory...) reject `ready()` and every call. */
  constructor(options: LevelAdapterOptions) {
    checkOptions(options);
    const where = options.location ?? 'the database';
    const { location, db, namespace } = options;
    let opened: Promise<void>;
    const attach = (base: LevelDatabase): void => {
      this.#db = namespace !== undefined ? base.sublevel(namespace) : base;
      this.#space = keySpaceOf(this.#db);
      this.#lock = this.#space.lock;
      this.#space.feeds.add(this.#listeners);
      watchReopen(rootOf(this.#db));
    };
    if (location !== undefined) {
      // classic-level is imported only now, so the package also runs where it cannot load.
      const shared = acquireDirectory(location).then((dir) => {
        attach(dir.db);
        this.#release = () => dir.release();
        return dir;
      });
      this.#attached = shared.then(() => undefined);
      opened = shared.then((dir) => dir.ready);
    } else {
      attach(db!);
      this.#attached = Promise.resolve();
      opened = db!.open();
    }
    this.#batchOptions = { ...ENC, sync: options.sync ?? true };
    this.#ready = opened.then(
      () => this.#checkIntegrity(where, location, options.repair === true),
      (e: unknown) => {
        throw openError(e, where);
      },
    );
    // Failures surface through ready() and every call; do not also report them as unhandled.
    this.#ready.catch(() => undefined);
    this.#attached.catch(() => undefined);
  }

  /**
   * At open: finds committed changes that are gone (LevelDB dropped corrupt log bytes, or the
   * counter is above every record, which no commit leaves behind: the newest record always
   * holds the counter, unless compaction removed it). Refuses with `CORRUPT` until repaired.
   */
  async #checkIntegrity(where: string, location: string | undefined, repair: boolean): Promise<void> {
    const dropped = location === undefined ? 0 : await droppedAtOpen(location);
    // Not under the commit lock: a call waiting for the open may hold it. The counter is read
    // before the records, so a commit of another adapter landing between cannot look like damage.
    const [counter, watermark, marker] = await this.#db.getMany([COUNTER_KEY, WATERMARK_KEY, CORRUPT_KEY], ENC);
    const { lastSyncId, compactedThrough } = sequenceOf(counter, watermark);
    const top: string[] = await this.#db.keys({ ...syncRangeAfter(0), ...ENC, reverse: true, limit: 1 }).all();
    const highestRecord = top[0] === undefined ? 0 : Number(top[0].slice(2));
    let damage = marker === undefined ? undefined : (JSON.parse(marker) as Damage);
    if (damage === undefined && (dropped > 0 || lastSyncId > Math.max(highestRecord, compactedThrough))) {
      damage = { droppedBytes: dropped, lastSyncId, highestRecord };
      // Kept, so the next open refuses too (LevelDB rewrites its log and rotates LOG now).
      await this.#batch([{ type: 'put', key: CORRUPT_KEY, value: JSON.stringify(damage) }]);
    }
    if (damage === undefined) return;
    if (!repair) throw new CseErrorClass('CORRUPT', damageMessage(where, damage));
    // Every lost commit took at least one id and far more than one byte of log: the counter
    // moves past any id that may have been handed out, and the watermark with it.
    const floor = Math.max(lastSyncId, highestRecord) + damage.droppedBytes;
    await this.#batch([
      { type: 'put', key: COUNTER_KEY, value: String(floor) },
      { type: 'put', key: WATERMARK_KEY, value: String(Math.max(compactedThrough, floor)) },
      { type: 'del', key: CORRUPT_KEY },
    ]);
  }

  /** Resolves once the database is open; rejects with a `BACKEND` error if it cannot be (e.g. locked), `CORRUPT` if it is damaged. */
  ready(): Promise<void> {
    return this.#ready;
  }

  /**
   * Runs one call: CLOSED after `close()`, waits for the open, maps backend errors. With
   * `exclusive`, the commit lock is queued right after the one wait for `#attached` (which
   * `close()` makes too), so a call made before `close()` also runs before it.
   */
  async #run<T>(what: string, fn: () => Promise<T>, exclusive = false): Promise<T> {
    if (this.#closing !== undefined) throw new ClosedError('the level adapter is closed');
    try {
      await this.#attached;
    } catch {
      await this.#ready; // rejects with the open error
    }
    const call = async (): Promise<T> => {
      await this.#ready;
      try {
        return await fn();
      } catch (e) {
        if (this.#closing !== undefined) throw new ClosedError('the level adapter was closed during the call', { cause: e });
        throw toBackendError(e, `level: ${what} failed`);
      }
    };
    return exclusive ? this.#lock.runExclusive(call) : call();
  }

  /**
   * Runs reads against one consistent state: an explicit snapshot where the database offers
   * them (classic-level and memory-level do; not every abstract-level database does, and
   * without one even a single getMany or iterator may read the latest state as it changes),
   * else under the commit lock, so that no commit of this store lands between the reads.
   */
  async #read<T>(fn: (options: ReadOptions) => Promise<T>): Promise<T> {
    if (this.#db.supports.explicitSnapshots !== true) return this.#lock.runExclusive(() => fn(ENC));
    const snapshot = this.#db.snapshot();
    try {
      return await fn({ ...ENC, snapshot });
    } finally {
      await snapshot.close();
    }
  }

  /** Throws the `BACKEND` error of an earlier failed write batch on this database, if any. */
  #refuseAfterFailedWrite(): void {
    const failed = failedWrites.get(rootOf(this.#db));
    if (failed !== undefined) {
      throw new BackendError(
        `level: an earlier write to this database failed (${failed.message}); commits are refused until you close and reopen the store, since LevelDB would silently lose them on the next open`,
        { cause: failed },
      );
    }
  }

  /** Runs a write batch; a failure (other than a close) makes this database refuse writes. */
  async #batch(ops: BatchOp[]): Promise<void> {
    try {
      await this.#db.batch(ops, this.#batchOptions);
    } catch (e) {
      if (this.#closing === undefined) failedWrites.set(rootOf(this.#db), e instanceof Error ? e : new Error(String(e)));
      throw e;
    }
  }

  async commit(request: CommitRequest): Promise<CommitResult> {
    for (const w of request.writes) assertDocKey(w.collection, w.id);
    // The lock makes read, check, id allocation and batch one unit within this process;
    // LevelDB's directory lock keeps other processes out; the batch itself is atomic. Commits
    // therefore land one after another in id order, each whole, so a reader never sees an id
    // while a smaller one is still to come.
    return this.#run(
      'commit',
      async () => {
        this.#refuseAfterFailedWrite();
        const keys = request.writes.map((w) => docKey(w.collection, w.id));
        const [values, counter, indexes] = await Promise.all([this.#db.getMany(keys, ENC), this.#db.get(COUNTER_KEY, ENC), this.#indexList()]);
        const prevs = values.map((v: string | undefined, i) => (v === undefined ? undefined : toRecord(request.writes[i]!.collection, v)));
        const planned = planCommit(request, prevs, counter === undefined ? 0 : Number(counter));
        const result = planned.result;
        if (!result.ok || result.records.length === 0) return result;
        const written = result.records;
        const ops: BatchOp[] = [];
        let next = 0;
        request.writes.forEach((write, i) => {
          if (write.kind === 'check') return;
          const record = written[next++]!;
          const prev = prevs[i];
          if (prev !== undefined) ops.push({ type: 'del', key: syncKey(prev.syncId) });
          ops.push({ type: 'put', key: keys[i]!, value: JSON.stringify(record.doc) });
          ops.push({ type: 'put', key: syncKey(record.syncId), value: encodeIndexEntry(record) });
          ops.push(...indexOps(indexes, prev, record));
        });
        ops.push({ type: 'put', key: COUNTER_KEY, value: String(planned.lastSyncId) });
        await this.#batch(ops);
        // Written, and still under the lock: the next commit of this key space cannot be
        // visible before its predecessors' listeners were called.
        for (const feed of this.#space?.feeds ?? []) feed.notify();
        // planCommit's records are new objects around the Store's own copies of the bodies:
        // handed out as they are, nothing is parsed back.
        return result;
      },
      true,
    );
  }

  async getMany(keys: readonly DocKey[]): Promise<(StoredRecord | undefined)[]> {
    for (const k of keys) assertDocKey(k.collection, k.id);
    return this.#run('getMany', () =>
      this.#read(async (read) => {
        const values: (string | undefined)[] = await this.#db.getMany(
          keys.map((k) => docKey(k.collection, k.id)),
          read,
        );
        return values.map((v, i) => (v === undefined ? undefined : toRecord(keys[i]!.collection, v)));
      }),
    );
  }

  async scanCollection(collection: string): Promise<StoredRecord[]> {
    assertCollectionName(collection, true);
    return this.#run('scanCollection', () =>
      this.#read(async (read) => {
        const values: string[] = await this.#db.values({ ...collectionRange(collection), ...read }).all();
        return values.map((v) => toRecord(collection, v));
      }),
    );
  }

  async changes(after: number, options: { readonly limit: number; readonly collections?: readonly string[] }): Promise<StoredRecord[]> {
    return (await this.#page(after, options, false)).records;
  }

  /** The page and the counter keys from one snapshot (the counter rides along in the documents' getMany). */
  async changesWithSequence(after: number, options: { readonly limit: number; readonly collections?: readonly string[] }): Promise<{ records: StoredRecord[]; sequence: SequenceState }> {
    return this.#page(after, options, true);
  }

  async #page(after: number, options: { readonly limit: number; readonly collections?: readonly string[] }, withSequence: boolean): Promise<{ records: StoredRecord[]; sequence: SequenceState }> {
    const limit = options.limit;
    const wanted = options.collections && new Set(options.collections);
    return this.#run('changes', () =>
      this.#read(async (read) => {
        if (!(limit > 0)) return { records: [], sequence: withSequence ? await this.#sequenceIn(read) : NO_SEQUENCE };
        // One range scan from just above `after`: cost is the entries read, not the store size.
        // With a collection list, entries of other collections are read and dropped.
        const bounded = wanted === undefined && Number.isSafeInteger(limit);
        const it = this.#db.iterator({ ...syncRangeAfter(after), ...read, limit: bounded ? limit : -1 });
        const picked: IndexEntry[] = [];
        try {
          while (picked.length < limit) {
            const entries: [string, string][] = await it.nextv(Math.min(limit - picked.length, 512));
            if (entries.length === 0) break;
            for (const [, value] of entries) {
              const entry = decodeIndexEntry(value);
              if (wanted === undefined || wanted.has(entry.collection)) picked.push(entry);
              if (picked.length >= limit) break;
            }
          }
        } finally {
          await it.close();
        }
        const keys = picked.map((e) => docKey(e.collection, e.id));
        if (withSequence) keys.push(COUNTER_KEY, WATERMARK_KEY);
        const values: (string | undefined)[] = await this.#db.getMany(keys, read);
        const out: StoredRecord[] = [];
        for (let i = 0; i < picked.length; i++) {
          const v = values[i];
          if (v !== undefined) out.push(toRecord(picked[i]!.collection, v));
        }
        const sequence = withSequence ? sequenceOf(values[picked.length], values[picked.length + 1]) : NO_SEQUENCE;
        return { records: out, sequence };
      }),
    );
  }

  async #sequenceIn(read: ReadOptions): Promise<SequenceState> {
    const [last, compacted]: (string | undefined)[] = await this.#db.getMany([COUNTER_KEY, WATERMARK_KEY], read);
    return sequenceOf(last, compacted);
  }

  async listCollections(): Promise<string[]> {
    return this.#run('listCollections', () =>
      this.#read(async (read) => {
        // One seek per collection, past the rest of its documents.
        const it = this.#db.keys({ ...DOCS_RANGE, ...read });
        const names: string[] = [];
        try {
          for (let key: string | undefined = await it.next(); key !== undefined; key = await it.next()) {
            const name = collectionOfDocKey(key);
            names.push(name);
            it.seek(afterCollection(name));
          }
        } finally {
          await it.close();
        }
        return names.sort();
      }),
    );
  }

  async sequence(): Promise<SequenceState> {
    return this.#run('sequence', async () => {
      const [last, compacted]: (string | undefined)[] = await this.#db.getMany([COUNTER_KEY, WATERMARK_KEY], ENC);
      return sequenceOf(last, compacted);
    });
  }

  async compact(through: number): Promise<number> {
    if (!Number.isSafeInteger(through) || through < 0) throw new ValidationError('through must be a non-negative integer');
    return this.#run(
      'compact',
      async () => {
        this.#refuseAfterFailedWrite();
        const range = syncRangeThrough(through);
        const ops: BatchOp[] = [];
        if (range !== undefined) {
          // The index value says whether the record is a tombstone, so only index entries are read.
          for await (const [key, value] of this.#db.iterator({ ...range, ...ENC }) as AsyncIterable<[string, string]>) {
            const entry = decodeIndexEntry(value);
            if (!entry.deleted) continue;
            ops.push({ type: 'del', key }, { type: 'del', key: docKey(entry.collection, entry.id) });
          }
        }
        const watermark: string | undefined = await this.#db.get(WATERMARK_KEY, ENC);
        if (watermark === undefined || Number(watermark) < through) ops.push({ type: 'put', key: WATERMARK_KEY, value: String(through) });
        if (ops.length > 0) await this.#batch(ops);
        return ops.filter((op) => op.type === 'del').length / 2;
      },
      true,
    );
  }

  /** The declared indexes, read once per key space; call under the lock. */
  async #indexList(): Promise<IndexList> {
    const space = this.#space!;
    space.indexes ??= await readIndexList(this.#db);
    return space.indexes;
  }

  /** One batch: entries of every stored document and the declaration (an atomic build). */
  async createIndex(collection: string, field: string): Promise<void> {
    assertCollectionName(collection);
    return this.#run(
      'createIndex',
      async () => {
        this.#refuseAfterFailedWrite();
        const list = await this.#indexList();
        if (list.get(collection)?.has(field)) return;
        const values: string[] = await this.#db.values({ ...collectionRange(collection), ...ENC }).all();
        await this.#batch(buildOps(list, collection, field, values.map((v) => toRecord(collection, v))));
        this.#space!.indexes = await readIndexList(this.#db);
      },
      true,
    );
  }

  async dropIndex(collection: string, field: string): Promise<void> {
    assertCollectionName(collection);
    return this.#run(
      'dropIndex',
      async () => {
        this.#refuseAfterFailedWrite();
        const list = await this.#indexList();
        if (!list.get(collection)?.has(field)) return;
        await this.#batch(await dropOps(this.#db, list, collection, field));
        this.#space!.indexes = await readIndexList(this.#db);
      },
      true,
    );
  }

  async listIndexes(): Promise<IndexSpec[]> {
    return this.#run('listIndexes', async () => listSpecs(await readIndexList(this.#db)));
  }

  async findIndexed(collection: string, probes: readonly IndexProbe[]): Promise<StoredRecord[] | undefined> {
    assertCollectionName(collection, true);
    return this.#run('findIndexed', () =>
      this.#read(async (read) => {
        const ids = await lookupIds(this.#db, collection, probes, read);
        if (ids === undefined) return undefined;
        const values: (string | undefined)[] = await this.#db.getMany(
          ids.map((id) => docKey(collection, id)),
          read,
        );
        const out: StoredRecord[] = [];
        for (const v of values) if (v !== undefined) out.push(toRecord(collection, v));
        return out;
      }),
    );
  }

  /**
   * In-process: a classic-level directory serves one process, so every commit of the store goes
   * through an adapter of this module in this process. Listeners are called synchronously right
   * after each commit's batch, for commits of any adapter on the same key space.
   */
  subscribe(listener: () => void): () => void {
    if (this.#closing !== undefined) return () => undefined;
    return this.#listeners.add(listener);
  }

  /**
   * Waits for a running commit, then closes the database if this adapter opened it (and no
   * other adapter of this process still uses that directory). A `db` you passed stays open.
   * Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#listeners.clear();
      this.#space?.feeds.delete(this.#listeners);
      try {
        await this.#attached;
      } catch {
        return; // nothing was opened
      }
      await this.#lock.runExclusive(async () => {
        const release = this.#release;
        if (release === undefined) return;
        try {
          await release();
        } catch (e) {
          throw toBackendError(e, 'level: close failed');
        }
      });
    })();
    return this.#closing;
  }
}
