import type {
  AdapterCapabilities,
  CommitRequest,
  CommitResult,
  DocKey,
  SequenceState,
  StorageAdapter,
  StoredRecord,
} from './adapter.js';
import { defineCapabilities } from './adapter.js';
import { CommitListeners } from './change-feed.js';
import { ClosedError } from './errors.js';
import { docKeyString, planCommit } from './records.js';
import type { IndexProbe, IndexSpec } from './indexes.js';
import { MemoryIndexes } from './memory-indexes.js';

function copy(record: StoredRecord): StoredRecord {
  return { ...record, doc: structuredClone(record.doc) };
}

/**
 * The reference adapter: everything in one process's memory, simple enough to trust as the
 * conformance suite's oracle. Every commit runs synchronously between two awaits, which makes
 * it atomic in a single-threaded runtime. Not persistent: a new `MemoryAdapter` starts empty.
 */
export class MemoryAdapter implements StorageAdapter {
  readonly capabilities: Readonly<AdapterCapabilities> = defineCapabilities({ compaction: true, changeFeed: true, indexes: true });

  readonly #listeners = new CommitListeners();

  readonly #records = new Map<string, StoredRecord>();
  readonly #indexes = new MemoryIndexes();
  /** Every (syncId, key) ever written, ascending; entries whose record moved on are skipped. */
  readonly #log: { syncId: number; key: string }[] = [];
  #lastSyncId = 0;
  #compactedThrough = 0;
  #closed = false;

  #open(): void {
    if (this.#closed) throw new ClosedError('the memory adapter is closed');
  }

  async commit(request: CommitRequest): Promise<CommitResult> {
    this.#open();
    const keys = request.writes.map((w) => docKeyString(w.collection, w.id));
    const prevs = keys.map((k) => this.#records.get(k));
    const { result, lastSyncId } = planCommit(request, prevs, this.#lastSyncId);
    if (!result.ok) return { ok: false, failures: result.failures.map((f) => ({ ...f, current: f.current && copy(f.current) })) };
    for (const record of result.records) {
      const key = docKeyString(record.collection, record.id);
      this.#indexes.update(this.#records.get(key), record);
      this.#records.set(key, copy(record));
      this.#log.push({ syncId: record.syncId, key });
    }
    this.#lastSyncId = lastSyncId;
    if (result.records.length > 0) this.#listeners.notify();
    return { ok: true, records: result.records.map(copy) };
  }

  async getMany(keys: readonly DocKey[]): Promise<(StoredRecord | undefined)[]> {
    this.#open();
    return keys.map((k) => {
      const r = this.#records.get(docKeyString(k.collection, k.id));
      return r && copy(r);
    });
  }

  async scanCollection(collection: string): Promise<StoredRecord[]> {
    this.#open();
    return [...this.#records.values()].filter((r) => r.collection === collection).map(copy);
  }

  async changes(after: number, options: { readonly limit: number; readonly collections?: readonly string[] }): Promise<StoredRecord[]> {
    this.#open();
    const wanted = options.collections && new Set(options.collections);
    let lo = 0;
    let hi = this.#log.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.#log[mid] as { syncId: number }).syncId <= after) lo = mid + 1;
      else hi = mid;
    }
    const out: StoredRecord[] = [];
    for (let i = lo; i < this.#log.length && out.length < options.limit; i++) {
      const { syncId, key } = this.#log[i] as { syncId: number; key: string };
      const r = this.#records.get(key);
      if (r === undefined || r.syncId !== syncId) continue;
      if (wanted && !wanted.has(r.collection)) continue;
      out.push(copy(r));
    }
    return out;
  }

  async listCollections(): Promise<string[]> {
    this.#open();
    return [...new Set([...this.#records.values()].map((r) => r.collection))].sort();
  }

  async sequence(): Promise<SequenceState> {
    this.#open();
    return { lastSyncId: this.#lastSyncId, compactedThrough: this.#compactedThrough };
  }

  async compact(through: number): Promise<number> {
    this.#open();
    let removed = 0;
    for (const [key, r] of this.#records) {
      if (r.deleted && r.syncId <= through) {
        this.#records.delete(key);
        removed++;
      }
    }
    this.#compactedThrough = Math.max(this.#compactedThrough, through);
    return removed;
  }

  async createIndex(collection: string, field: string): Promise<void> {
    this.#open();
    this.#indexes.create(collection, field, [...this.#records.values()].filter((r) => r.collection === collection));
  }

  async dropIndex(collection: string, field: string): Promise<void> {
    this.#open();
    this.#indexes.drop(collection, field);
  }

  async listIndexes(): Promise<IndexSpec[]> {
    this.#open();
    return this.#indexes.list();
  }

  async findIndexed(collection: string, probes: readonly IndexProbe[]): Promise<StoredRecord[] | undefined> {
    this.#open();
    for (const { field, selectors } of probes) {
      const ids = this.#indexes.lookup(collection, field, selectors);
      if (ids === undefined) continue;
      return ids.map((id) => copy(this.#records.get(docKeyString(collection, id)) as StoredRecord));
    }
    return undefined;
  }

  /** In-process: listeners are called synchronously at the end of every commit that wrote. */
  subscribe(listener: () => void): () => void {
    return this.#listeners.add(listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#listeners.clear();
  }
}
