/**
 * SyncState: two-tier sync bookkeeping between the Edge (which creates changes) and the
 * Frontend (which receives them), persisted in the store so it survives restarts, and never
 * moving backwards. There is no relay tier: the relay is a blind proxy.
 *
 * - `recordChange(tier, syncId)`: a change created on `tier` waits to reach the other tier.
 * - `markSynced(tier, syncId)`: the other tier has received `tier`'s changes up to `syncId`.
 * - `getDeltaSince(tier, cursor)`: the changes themselves, for the receiving `tier`.
 */
import type { JsonObject } from './adapter.js';
import { ValidationError, isCseError } from './errors.js';
import type { Registry } from './registry.js';
import { Tier, assertTier } from './registry.js';
import type { Change, Store } from './store.js';
import { kSystem } from './store.js';

/** The system collection holding the state document. */
export const SYNC_COLLECTION = '_cse_sync';
const STATE_ID = 'sync_state';
const EPOCH_ID = 'epoch';

/** What one tier has created and what of it the other tier has received. */
export interface TierState {
  /** Highest sync id of this tier's changes the other tier has received. Never decreases. */
  readonly syncedThrough: number;
  /** Recorded changes of this tier not yet received, ascending, without duplicates. */
  readonly pending: readonly number[];
}

export interface DeltaOptions {
  /** Largest page. Default 100 (at most 10 000). */
  readonly limit?: number;
}

export interface Delta {
  /** Documents and tombstones of the registered collections, ascending by `_sync_id`. */
  readonly changes: Change[];
  /** The cursor for the next call. */
  readonly cursor: number;
  /** True when more changes are waiting. */
  readonly hasMore: boolean;
}

function checkSyncId(v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new ValidationError(`a sync id is a non-negative integer, got ${String(v)}`);
  }
  return v;
}

function readTier(doc: JsonObject | undefined, tier: Tier): TierState {
  const t = doc?.[tier] as { syncedThrough?: unknown; pending?: unknown } | undefined;
  return {
    syncedThrough: typeof t?.syncedThrough === 'number' ? t.syncedThrough : 0,
    pending: Array.isArray(t?.pending) ? (t.pending as number[]) : [],
  };
}

export class SyncState {
  readonly #store: Store;
  readonly #registry: Registry;

  constructor(store: Store, registry: Registry) {
    this.#store = store;
    this.#registry = registry;
  }

  async #read(): Promise<{ doc: JsonObject | undefined; version: number }> {
    const [r] = await this.#store[kSystem].getMany([{ collection: SYNC_COLLECTION, id: STATE_ID }]);
    return r && !r.deleted ? { doc: r.doc, version: r.version } : { doc: undefined, version: 0 };
  }

  async #change(tier: Tier, fn: (state: TierState) => TierState): Promise<TierState> {
    for (let attempt = 0; ; attempt++) {
      const { doc, version } = await this.#read();
      const before = readTier(doc, tier);
      const after = fn(before);
      if (after === before) return before;
      const other: Tier = tier === Tier.Edge ? Tier.Frontend : Tier.Edge;
      const body = this.#store[kSystem].body(SYNC_COLLECTION, {
        id: STATE_ID,
        [tier]: { syncedThrough: after.syncedThrough, pending: [...after.pending] },
        [other]: (() => {
          const o = readTier(doc, other);
          return { syncedThrough: o.syncedThrough, pending: [...o.pending] };
        })(),
      });
      try {
        await this.#store[kSystem].commit([
          { collection: SYNC_COLLECTION, id: STATE_ID, kind: 'put', body, expect: version === 0 ? { kind: 'absent' } : { kind: 'version', version } },
        ]);
        return after;
      } catch (e) {
        if (!isCseError(e, 'CONFLICT') || attempt >= 20) throw e;
      }
    }
  }

  /**
   * The store's epoch: a random id it gets the first time it is asked (kept in the store), so a
   * replaced or restored store is told apart from the one a sync cursor came from. Stable across
   * restarts and processes; concurrent first calls agree.
   */
  async epoch(): Promise<string> {
    const key = { collection: SYNC_COLLECTION, id: EPOCH_ID };
    for (;;) {
      const [r] = await this.#store[kSystem].getMany([key]);
      if (r && !r.deleted && typeof r.doc.epoch === 'string') return r.doc.epoch;
      const body = this.#store[kSystem].body(SYNC_COLLECTION, { id: EPOCH_ID, epoch: globalThis.crypto.randomUUID() });
      try {
        await this.#store[kSystem].commit([{ ...key, kind: 'put', body, expect: { kind: 'absent' } }]);
        return body.epoch as string;
      } catch (e) {
        if (!isCseError(e, 'CONFLICT')) throw e; // another caller made it first: read theirs
      }
    }
  }

  /** Records that `tier` created the change `syncId`, pending delivery. Idempotent. */
  async recordChange(tier: Tier, syncId: number): Promise<void> {
    assertTier(tier);
    checkSyncId(syncId);
    await this.#change(tier, (s) => {
      if (syncId <= s.syncedThrough || s.pending.includes(syncId)) return s;
      return { ...s, pending: [...s.pending, syncId].sort((a, b) => a - b) };
    });
  }

  /**
   * Records that the other tier has received `tier`'s changes up to `syncId`: they leave the
   * pending list and `syncedThrough` rises. A lower `syncId` than already synced changes nothing
   * (state never moves backwards).
   */
  async markSynced(tier: Tier, syncId: number): Promise<void> {
    assertTier(tier);
    checkSyncId(syncId);
    await this.#change(tier, (s) => (syncId <= s.syncedThrough ? s : { syncedThrough: syncId, pending: s.pending.filter((id) => id > syncId) }));
  }

  /** Pending changes of `tier`, ascending (a copy). */
  async getPendingChanges(tier: Tier): Promise<number[]> {
    assertTier(tier);
    return [...readTier((await this.#read()).doc, tier).pending];
  }

  /** The tier's state (a copy). */
  async getState(tier: Tier): Promise<TierState> {
    assertTier(tier);
    const s = readTier((await this.#read()).doc, tier);
    return { syncedThrough: s.syncedThrough, pending: [...s.pending] };
  }

  /**
   * The changes after `cursor` for the receiving `tier`: documents and tombstones of every
   * registered collection, ascending by `_sync_id`, at most `limit`, with the next cursor and
   * whether more remain. Call again with the returned cursor until `hasMore` is false.
   *
   * @throws `VALIDATION` (tier, cursor), `RESET_REQUIRED` (cursor from another epoch).
   */
  async getDeltaSince(tier: Tier, cursor: number, options: DeltaOptions = {}): Promise<Delta> {
    assertTier(tier);
    checkSyncId(cursor);
    const collections = this.#registry.collectionNames();
    if (collections.length === 0) return { changes: [], cursor, hasMore: false };
    return this.#store.changesSince(cursor, { collections, ...(options.limit === undefined ? {} : { limit: options.limit }) });
  }
}
