/**
 * The write path of a sync replica: what `@cse/sync` (or another sync layer) needs of a Store
 * to keep a copy of another store's documents.
 *
 * A replica document is an ordinary document of the local store (local `_sync_id`, `_version`,
 * timestamps, so the local store's own guarantees and `watch` keep working) that also carries the
 * origin's metadata beside them: `_edge_sync_id`, `_edge_version`, and the receiving side's
 * `_sync_status` and `_synced_at`; `_conflict` holds a write the origin rejected. The ordinary
 * write path drops these fields (they are never trusted from a caller); only `Replica.commit`
 * keeps them. It may also write system collections (`_` prefix), so a page of changes, its
 * cursor and the outbox of pending writes land in one atomic local commit.
 */
import type { DocKey, Expectation, StoredRecord, WriteOp } from './adapter.js';
import { ValidationError, describeValue } from './errors.js';
import { optionsOf, readInput } from './input-checks.js';
import { assertCollectionName, assertId } from './json.js';
import { assertExpectation } from './records.js';
import type { Store } from './store.js';
import { kSystem } from './system.js';

/** One write of a replica commit. */
export interface ReplicaWrite {
  readonly collection: string;
  readonly id: string;
  /** `put`: `body` (user fields plus replica metadata) becomes the document; `delete`: a tombstone (also for a document never seen). */
  readonly kind: 'put' | 'delete';
  readonly body?: Readonly<Record<string, unknown>>;
  /** Precondition on the local state; absent means none. */
  readonly expect?: Expectation;
}

export class Replica {
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
  }

  /** The local store. */
  get store(): Store {
    return this.#store;
  }

  /**
   * Commits `writes` atomically (all or nothing). Bodies are validated like any document; the
   * replica metadata fields are kept.
   *
   * @throws `VALIDATION` (before anything is written), `CONFLICT` (a failed `expect`), `CLOSED`, `BACKEND`.
   */
  async commit(writes: readonly ReplicaWrite[]): Promise<readonly StoredRecord[]> {
    if (!Array.isArray(writes)) throw new ValidationError('writes must be an array');
    const sys = this.#store[kSystem];
    const seen = new Set<string>();
    const ops: WriteOp[] = writes.map((write: unknown, i) => {
      if (write === null || typeof write !== 'object') throw new ValidationError(`writes[${i}] must be an object, got ${write === null ? 'null' : describeValue(write)}`);
      // One read of each member: a getter cannot answer differently later, nor throw past VALIDATION.
      const w = optionsOf(write as ReplicaWrite, `writes[${i}]`, ['collection', 'id', 'kind', 'body', 'expect']);
      assertExpectation(w.expect, `writes[${i}].expect`);
      assertCollectionName(w.collection, true);
      assertId(w.id);
      const key = `${w.collection}\u0000${w.id}`;
      if (seen.has(key)) throw new ValidationError(`a replica commit names ${w.collection}/${JSON.stringify(w.id)} twice`);
      seen.add(key);
      if (w.kind === 'delete') {
        sys.body(w.collection, { id: w.id }); // validates the name and the id
        return { collection: w.collection, id: w.id, kind: 'delete', ...(w.expect ? { expect: w.expect } : {}) };
      }
      if (w.kind !== 'put') throw new ValidationError(`a replica write is "put" or "delete", got ${describeValue(w.kind)}`);
      const body = sys.body(w.collection, readInput(`writes[${i}].body`, () => ({ ...w.body, id: w.id })), true);
      return { collection: w.collection, id: w.id, kind: 'put', body, ...(w.expect ? { expect: w.expect } : {}) };
    });
    if (ops.length === 0) return [];
    return sys.commit(ops);
  }

  /** Records (tombstones included), system collections allowed, from one snapshot. */
  getMany(keys: readonly DocKey[]): Promise<(StoredRecord | undefined)[]> {
    return this.#store[kSystem].getMany(keys);
  }

  /** Every record of a collection, tombstones included. */
  scan(collection: string): Promise<StoredRecord[]> {
    return this.#store[kSystem].scan(collection);
  }
}
