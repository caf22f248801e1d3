/**
 * A persistent in-memory adapter (data kept per store name for the life of the process) with
 * switchable faults. With no fault it is a correct adapter, and the whole suite must pass on it;
 * with one fault it violates one guarantee, and the suite must reject it. This is how the suite
 * tests itself.
 */
import type { AdapterCapabilities, CommitRequest, CommitResult, DocKey, IndexProbe, IndexSelector, IndexSpec, SequenceState, StorageAdapter, StoredRecord, WriteOp } from '@cse/core';
import { ClosedError, MemoryIndexes, defineCapabilities, docKeyString, getPath, planCommit, toBackendError } from '@cse/core';
import type { OpenAdapter } from '../../src/index.js';

export interface Faults {
  /** The counter starts again at 0 after a reopen (ids repeat). */
  readonly restartIds?: boolean;
  /** Ids are taken before the atomic section; records land after a random delay (a reader can miss one). */
  readonly allocOutside?: boolean;
  /** Preconditions are never checked. */
  readonly skipVersionCheck?: boolean;
  /** Writes are applied one by one; a failed precondition stops the batch halfway. */
  readonly halfBatch?: boolean;
  /** The last commit before a reopen is lost. */
  readonly loseOnReopen?: boolean;
  /** Stored objects are handed out and kept as they are (shared references). */
  readonly liveObjects?: boolean;
  /** Tombstones are stored without their deleted flag. */
  readonly dropDeleted?: boolean;
  /** Every store name shares one counter. */
  readonly sharedCounter?: boolean;
  /** System collections (`_cse_tx`, `_cse_sync`) are not persisted across a reopen. */
  readonly dropSystemOnReopen?: boolean;
  /** Keys are `${collection}-${id}`, unescaped: distinct pairs collide. */
  readonly splicedKeys?: boolean;
  /** At open the counter is re-derived from the highest `syncId` still stored (compacted tombstones forgotten). */
  readonly deriveCounter?: boolean;
  /** `changes` ignores `limit`. */
  readonly changesIgnoreLimit?: boolean;
  /** `scanCollection` leaves tombstones out. */
  readonly scanDropsTombstones?: boolean;
  /** Empty arrays in documents read back as `{}` (a serialiser that cannot tell them apart). */
  readonly emptyArraysAsObjects?: boolean;
  /** `changes` resolves to `undefined` when nothing is left after `after`. */
  readonly changesUndefined?: boolean;
  /** The backend limits keys (collection + id) to 1024 UTF-8 bytes and rejects longer ones. */
  readonly keyBytes?: boolean;
  /** Declares `changeFeed` but signals only its own commits, never those of another instance. */
  readonly deafFeed?: boolean;
  /** `changesWithSequence` reads the counter, lets commits land, then reads the page (two states). */
  readonly staleSequence?: boolean;
  /** An update of a live document leaves its index entries as they were (inserts and deletes are kept right). */
  readonly indexMissesUpdate?: boolean;
  /** The function `subscribe` returns does nothing: the listener keeps being called. */
  readonly unsubscribeNoop?: boolean;
  /** Unsubscribing removes the listener but leaves its poll timer running until `close`. */
  readonly unsubscribeKeepsTimer?: boolean;
  /** `compact(through)` also drops the index entries of live documents with `syncId <= through`. */
  readonly compactDropsLiveIndex?: boolean;
  /** `changesWithSequence` reads the page, lets commits land, then reads the counter (two states). */
  readonly pageThenCounter?: boolean;
  /** At reopen, tombstones of `_`-collections are tidied away (the watermark stays). */
  readonly tidySystemTombstones?: boolean;
  /** String index lookups go through keys `<value>:<id>`, a value's keys ending at `;`. */
  readonly naiveIndexKeys?: boolean;
  /** The feed tells other instances only of counters above the last one told, compared as text. */
  readonly feedTextCompare?: boolean;
  /** Other instances are signalled before the commit is stored (it lands a moment later). */
  readonly signalEarly?: boolean;
  /** Index names ignore letter case (as SQLite identifiers do): `Cat` beside `cat` is a no-op. */
  readonly foldIndexCase?: boolean;
}

interface State {
  records: Map<string, StoredRecord>;
  lastSyncId: number;
  /** What the last commit overwrote (for `loseOnReopen`). */
  undo: { lastSyncId: number; previous: [string, StoredRecord | undefined][] } | undefined;
  compactedThrough: number;
  /** `subscribe` listeners of every open instance on this store, with the instance. */
  listeners: Set<{ owner: FaultyAdapter; listener: () => void; told?: string }>;
  /** Secondary indexes, changed together with `records`. */
  indexes: MemoryIndexes;
}

function emptyArraysToObjects(v: unknown): unknown {
  if (Array.isArray(v)) return v.length === 0 ? {} : v.map(emptyArraysToObjects);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, emptyArraysToObjects(x)]));
  return v;
}

const shared = { lastSyncId: 0 };

function copy(r: StoredRecord): StoredRecord {
  return { ...r, doc: structuredClone(r.doc) };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class FaultyAdapter implements StorageAdapter {
  readonly capabilities: Readonly<AdapterCapabilities>;
  readonly #state: State;
  readonly #faults: Faults;
  #closed = false;

  constructor(state: State, faults: Faults, capabilities: Partial<AdapterCapabilities>) {
    this.#state = state;
    this.#faults = faults;
    this.capabilities = defineCapabilities(capabilities);
  }

  #open(): void {
    if (this.#closed) throw new ClosedError('the faulty adapter is closed');
  }

  #key(collection: string, id: string): string {
    return this.#faults.splicedKeys ? `${collection}-${id}` : docKeyString(collection, id);
  }

  #out(r: StoredRecord): StoredRecord {
    if (this.#faults.emptyArraysAsObjects) return { ...r, doc: emptyArraysToObjects(r.doc) as StoredRecord['doc'] };
    return this.#faults.liveObjects ? r : copy(r);
  }

  get #last(): number {
    return this.#faults.sharedCounter ? shared.lastSyncId : this.#state.lastSyncId;
  }

  set #last(v: number) {
    if (this.#faults.sharedCounter) shared.lastSyncId = v;
    else this.#state.lastSyncId = v;
  }

  #store(records: readonly StoredRecord[], before: number, signalOthers = true): void {
    const previous: [string, StoredRecord | undefined][] = [];
    for (const r of records) {
      const key = this.#key(r.collection, r.id);
      const prev = this.#state.records.get(key);
      previous.push([key, prev]);
      const update = prev !== undefined && !prev.deleted && !r.deleted;
      if (!(this.#faults.indexMissesUpdate && update)) this.#state.indexes.update(prev, r);
      const kept = this.#faults.dropDeleted && r.deleted ? { ...r, deleted: false } : r;
      this.#state.records.set(key, this.#faults.liveObjects ? kept : copy(kept));
    }
    this.#state.undo = { lastSyncId: before, previous };
    if (this.capabilities.changeFeed) {
      for (const entry of [...this.#state.listeners]) {
        if (entry.owner === this) entry.listener();
        else if (signalOthers && !this.#faults.deafFeed) this.#tellOther(entry);
      }
    }
  }

  #tellOther(entry: { listener: () => void; told?: string }): void {
    const now = String(this.#last);
    if (this.#faults.feedTextCompare && entry.told !== undefined && !(now > entry.told)) return;
    entry.told = now;
    entry.listener();
  }

  async commit(request: CommitRequest): Promise<CommitResult> {
    this.#open();
    if (this.#faults.keyBytes) {
      for (const w of request.writes) {
        if (Buffer.byteLength(w.collection + w.id, 'utf8') > 1024) throw toBackendError(new Error('key too long (1024 bytes at most)'), 'faulty adapter: commit failed');
      }
    }
    const writes: readonly WriteOp[] = this.#faults.skipVersionCheck ? request.writes.map(({ expect: _e, ...w }) => w) : request.writes;
    const before = this.#last;
    if (this.#faults.allocOutside) {
      const n = writes.filter((w) => w.kind !== 'check').length;
      const base = this.#last;
      this.#last = base + n;
      await sleep(Math.random() < 0.5 ? 0 : 2);
      const prevs = writes.map((w) => this.#state.records.get(this.#key(w.collection, w.id)));
      const { result } = planCommit({ ...request, writes }, prevs, base);
      if (result.ok) this.#store(result.records, before);
      return result.ok ? { ok: true, records: result.records.map(copy) } : result;
    }
    if (this.#faults.halfBatch) {
      const records: StoredRecord[] = [];
      for (const [index, w] of writes.entries()) {
        const prev = this.#state.records.get(this.#key(w.collection, w.id));
        const { result, lastSyncId } = planCommit({ writes: [w], now: request.now }, [prev], this.#last);
        if (!result.ok) return { ok: false, failures: [{ index, current: prev && copy(prev) }] };
        this.#store(result.records, this.#last);
        this.#last = lastSyncId;
        records.push(...result.records);
      }
      return { ok: true, records: records.map(copy) };
    }
    const prevs = writes.map((w) => this.#state.records.get(this.#key(w.collection, w.id)));
    const { result, lastSyncId } = planCommit({ ...request, writes }, prevs, this.#last);
    if (!result.ok) return { ok: false, failures: result.failures.map((f) => ({ ...f, current: f.current && copy(f.current) })) };
    if (this.#faults.signalEarly && this.capabilities.changeFeed && result.records.length > 0) {
      for (const entry of [...this.#state.listeners]) if (entry.owner !== this) entry.listener();
      await sleep(1);
      // Planned again: another commit may have landed meanwhile.
      const again = planCommit({ ...request, writes }, writes.map((w) => this.#state.records.get(this.#key(w.collection, w.id))), this.#last);
      if (!again.result.ok) return again.result;
      this.#store(again.result.records, this.#last, false);
      this.#last = again.lastSyncId;
      return { ok: true, records: again.result.records.map(copy) };
    }
    this.#store(result.records, before);
    this.#last = lastSyncId;
    return { ok: true, records: result.records.map(copy) };
  }

  async getMany(keys: readonly DocKey[]): Promise<(StoredRecord | undefined)[]> {
    this.#open();
    return keys.map((k) => {
      const r = this.#state.records.get(this.#key(k.collection, k.id));
      return r && this.#out(r);
    });
  }

  async scanCollection(collection: string): Promise<StoredRecord[]> {
    this.#open();
    return [...this.#state.records.values()].filter((r) => r.collection === collection && !(this.#faults.scanDropsTombstones && r.deleted)).map((r) => this.#out(r));
  }

  async changes(after: number, options: { readonly limit: number; readonly collections?: readonly string[] }): Promise<StoredRecord[]> {
    this.#open();
    return this.#changes(after, options);
  }

  /** Only used where the test declares `sequencedChanges`: page and counter read in one synchronous step. */
  async changesWithSequence(after: number, options: { readonly limit: number; readonly collections?: readonly string[] }): Promise<{ records: StoredRecord[]; sequence: SequenceState }> {
    this.#open();
    if (this.#faults.pageThenCounter) {
      const records = this.#changes(after, options);
      await sleep(1);
      return { records, sequence: { lastSyncId: this.#last, compactedThrough: this.#state.compactedThrough } };
    }
    const sequence = { lastSyncId: this.#last, compactedThrough: this.#state.compactedThrough };
    if (this.#faults.staleSequence) await new Promise((resolve) => setTimeout(resolve, 2));
    return { records: this.#changes(after, options), sequence };
  }

  #changes(after: number, options: { readonly limit: number; readonly collections?: readonly string[] }): StoredRecord[] {
    const found = [...this.#state.records.values()]
      .filter((r) => r.syncId > after && (options.collections === undefined || options.collections.includes(r.collection)))
      .sort((a, b) => a.syncId - b.syncId)
      .slice(0, this.#faults.changesIgnoreLimit ? undefined : options.limit)
      .map((r) => this.#out(r));
    if (this.#faults.changesUndefined && found.length === 0) return undefined as unknown as StoredRecord[];
    return found;
  }

  async listCollections(): Promise<string[]> {
    this.#open();
    return [...new Set([...this.#state.records.values()].map((r) => r.collection))].sort();
  }

  async sequence(): Promise<SequenceState> {
    this.#open();
    return { lastSyncId: this.#last, compactedThrough: this.#state.compactedThrough };
  }

  async compact(through: number): Promise<number> {
    this.#open();
    let removed = 0;
    for (const [key, r] of this.#state.records) {
      if (r.deleted && r.syncId <= through) {
        this.#state.records.delete(key);
        removed++;
      } else if (this.#faults.compactDropsLiveIndex && r.syncId <= through) {
        this.#state.indexes.update(r, undefined);
      }
    }
    this.#state.compactedThrough = Math.max(this.#state.compactedThrough, through);
    return removed;
  }

  async createIndex(collection: string, field: string): Promise<void> {
    this.#open();
    if (this.#faults.foldIndexCase && this.#foldedIndexes(collection, field).length > 0) return;
    this.#state.indexes.create(collection, field, [...this.#state.records.values()].filter((r) => r.collection === collection));
  }

  /** Declared indexes whose names equal these when letter case is ignored. */
  #foldedIndexes(collection: string, field: string): IndexSpec[] {
    const c = collection.toLowerCase();
    const f = field.toLowerCase();
    return this.#state.indexes.list().filter((s) => s.collection.toLowerCase() === c && s.field.toLowerCase() === f);
  }

  async dropIndex(collection: string, field: string): Promise<void> {
    this.#open();
    if (this.#faults.foldIndexCase) {
      for (const s of this.#foldedIndexes(collection, field)) this.#state.indexes.drop(s.collection, s.field);
      return;
    }
    this.#state.indexes.drop(collection, field);
  }

  async listIndexes(): Promise<IndexSpec[]> {
    this.#open();
    return this.#state.indexes.list();
  }

  async findIndexed(collection: string, probes: readonly IndexProbe[]): Promise<StoredRecord[] | undefined> {
    this.#open();
    for (const { field, selectors } of probes) {
      const ids = this.#faults.naiveIndexKeys && selectors.every((s) => s.kind === 'range' ? s.type === 'string' : s.kind === 'eq' && typeof s.value === 'string')
        ? this.#naiveLookup(collection, field, selectors)
        : this.#state.indexes.lookup(collection, field, selectors);
      if (ids === undefined) continue;
      return ids.map((id) => this.#out(this.#state.records.get(this.#key(collection, id)) as StoredRecord));
    }
    return undefined;
  }

  /** String lookups over keys `<value>:<id>`, each value's keys ending at `;` (wrong for values holding `:`, `;` or less). */
  #naiveLookup(collection: string, field: string, selectors: readonly IndexSelector[]): string[] | undefined {
    if (!this.#state.indexes.has(collection, field)) return undefined;
    const keys: [string, string][] = [];
    for (const r of this.#state.records.values()) {
      const v = r.collection === collection && !r.deleted ? getPath(r.doc, field) : undefined;
      if (typeof v === 'string') keys.push([`${v}:${r.id}`, r.id]);
    }
    const ids: string[] = [];
    for (const s of selectors) {
      let gte = '';
      let lt = '\uffff\uffff';
      if (s.kind === 'eq') [gte, lt] = [`${s.value as string}:`, `${s.value as string};`];
      else if (s.kind === 'range') {
        if (s.lower) gte = `${s.lower.value as string}${s.lower.inclusive ? ':' : ';'}`;
        if (s.upper) lt = `${s.upper.value as string}${s.upper.inclusive ? ';' : ':'}`;
      }
      for (const [key, id] of keys) if (key >= gte && key < lt) ids.push(id);
    }
    return ids;
  }

  subscribe(listener: () => void): () => void {
    const entry = { owner: this, listener };
    this.#state.listeners.add(entry);
    let timer: ReturnType<typeof setInterval> | undefined;
    if (this.#faults.unsubscribeKeepsTimer) {
      // A polling feed: one timer per subscription, cleared only by close.
      timer = setInterval(() => undefined, 50);
      this.#timers.add(timer);
    }
    return () => {
      if (this.#faults.unsubscribeNoop) return;
      this.#state.listeners.delete(entry);
    };
  }

  readonly #timers = new Set<ReturnType<typeof setInterval>>();

  async close(): Promise<void> {
    this.#closed = true;
    for (const t of this.#timers) clearInterval(t);
    this.#timers.clear();
    for (const entry of [...this.#state.listeners]) if (entry.owner === this) this.#state.listeners.delete(entry);
  }
}

const backends = new Map<string, State>();

/**
 * A factory for `runConformance`/`runGroups`: store names map to in-memory states that outlive
 * the adapter (persistent within the process), with the given faults applied on every open.
 */
export function faultyFactory(faults: Faults = {}, capabilities: Partial<AdapterCapabilities> = { persistent: true, compaction: true, indexes: true }): OpenAdapter {
  return (storeName, { dir }) => {
    const key = `${dir}\u0000${storeName}`;
    let state = backends.get(key);
    if (state === undefined || !capabilities.persistent) {
      state = { records: new Map(), lastSyncId: 0, undo: undefined, compactedThrough: 0, listeners: new Set(), indexes: new MemoryIndexes() };
      backends.set(key, state);
    } else {
      // A reopen: apply the faults that strike at reopen.
      if (faults.restartIds) state.lastSyncId = 0;
      if (faults.deriveCounter) state.lastSyncId = Math.max(0, ...[...state.records.values()].map((r) => r.syncId));
      if (faults.loseOnReopen && state.undo) {
        for (const [k, prev] of state.undo.previous) {
          state.indexes.update(state.records.get(k), prev);
          if (prev === undefined) state.records.delete(k);
          else state.records.set(k, prev);
        }
        state.lastSyncId = state.undo.lastSyncId;
        state.undo = undefined;
      }
      if (faults.tidySystemTombstones) {
        for (const [k, r] of state.records) if (r.collection.startsWith('_') && r.deleted) state.records.delete(k);
      }
      if (faults.dropSystemOnReopen) {
        for (const [k, r] of state.records) {
          if (!r.collection.startsWith('_')) continue;
          state.indexes.update(r, undefined);
          state.records.delete(k);
        }
      }
    }
    return new FaultyAdapter(state, faults, capabilities);
  };
}
