/**
 * SyncState: two-tier sync bookkeeping between the Edge (which creates changes) and the
 * Frontend (which receives them), persisted in the store so it survives restarts, and never
 * moving backwards. There is no relay tier: the relay is a blind proxy.
 *
 * - `recordChange(tier, syncId)`: a change created on `tier` waits to reach the other tier.
 * - `markSynced(tier, syncId, { peer })`: the other tier (or one peer of it: each Frontend has
 *   its own) has received `tier`'s changes up to `syncId`.
 * - `getDeltaSince(tier, cursor)`: the changes themselves, for the receiving `tier`.
 *
 * Layout in the system collection `_cse_sync`: one small document per tier (`syncedThrough`),
 * one per pending change (`pending:<tier>:<syncId>`) and one per peer (`peer:<tier>:<peer>`).
 * So `recordChange` writes one small document whatever the number of pending changes (the
 * first version rewrote the whole pending list on every call), and concurrent recorders never
 * conflict. Pending documents at or below `syncedThrough` are ignored when read and swept by
 * the next `markSynced`.
 */
import type { JsonObject, StoredRecord, WriteOp } from './adapter.js';
import { ValidationError, describeValue, isCseError } from './errors.js';
import type { Registry } from './registry.js';
import { Tier, assertTier } from './registry.js';
import type { Change } from './changes.js';
import type { Store } from './store.js';
import { kSystem } from './system.js';

/** The system collection holding the state documents. */
export const SYNC_COLLECTION = '_cse_sync';
const STATE_ID = 'sync_state';
const EPOCH_ID = 'epoch';
/** Pending documents swept per `markSynced` (the rest go with the next one). */
const SWEEP = 500;
const MAX_PEER = 200;

/** What one tier has created and what of it the other tier has received. */
export interface TierState {
  /** Highest sync id of this tier's changes the other tier has received. Never decreases. */
  readonly syncedThrough: number;
  /** Recorded changes of this tier not yet received, ascending, without duplicates. */
  readonly pending: readonly number[];
}

/** What one peer of the receiving tier (one Frontend, say) has acknowledged. */
export interface PeerState {
  /** The peer's id, as given to `markSynced`. */
  readonly peer: string;
  /** Highest sync id of the tier's changes this peer has received. Never decreases. */
  readonly syncedThrough: number;
  /** When it last rose (ms since the epoch). */
  readonly updatedAt: number;
}

export interface PeerOptions {
  /**
   * One peer of the receiving tier (a Frontend's replica id, for example): its own
   * acknowledgement, kept beside the tier's. Without it, the tier's.
   */
  readonly peer?: string;
}

export interface DeltaOptions {
  /** Largest page. Default 100 (at most 10 000). */
  readonly limit?: number;
}

export interface Delta {
  /** Documents and tombstones of the receiving tier's collections, ascending by `_sync_id`. */
  readonly changes: Change[];
  /** The cursor for the next call. */
  readonly cursor: number;
  /** True when more changes are waiting. */
  readonly hasMore: boolean;
}

function checkSyncId(v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new ValidationError(`a sync id is a non-negative integer, got ${describeValue(v)}`);
  }
  return v;
}

function checkPeer(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_PEER) {
    throw new ValidationError(`a peer is a non-empty string of at most ${MAX_PEER} characters, got ${describeValue(v)}`);
  }
  return v;
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : 0;
}

const pendingPrefix = (tier: Tier): string => `pending:${tier}:`;
const peerPrefix = (tier: Tier): string => `peer:${tier}:`;

/** A tier's `syncedThrough` and the pending list an older version kept inside the state document. */
function readTier(doc: JsonObject | undefined, tier: Tier): { syncedThrough: number; legacy: number[] } {
  const t = doc?.[tier] as { syncedThrough?: unknown; pending?: unknown } | undefined;
  return {
    syncedThrough: num(t?.syncedThrough),
    legacy: Array.isArray(t?.pending) ? (t.pending as unknown[]).filter((n): n is number => typeof n === 'number') : [],
  };
}

export class SyncState {
  readonly #store: Store;
  readonly #registry: Registry;

  constructor(store: Store, registry: Registry) {
    this.#store = store;
    this.#registry = registry;
  }

  async #state(): Promise<StoredRecord | undefined> {
    const [r] = await this.#store[kSystem].getMany([{ collection: SYNC_COLLECTION, id: STATE_ID }]);
    return r && !r.deleted ? r : undefined;
  }

  /** The live documents of `_cse_sync` whose id starts with `prefix`. */
  async #scan(prefix: string): Promise<StoredRecord[]> {
    return (await this.#store[kSystem].scan(SYNC_COLLECTION)).filter((r) => !r.deleted && r.id.startsWith(prefix));
  }

  async #tierState(tier: Tier): Promise<TierState> {
    const [state, docs] = await Promise.all([this.#state(), this.#scan(pendingPrefix(tier))]);
    const { syncedThrough, legacy } = readTier(state?.doc, tier);
    const ids = new Set(legacy);
    for (const r of docs) ids.add(num(r.doc.syncId));
    return { syncedThrough, pending: [...ids].filter((n) => n > syncedThrough).sort((a, b) => a - b) };
  }

  /** Commits `ops` built from a fresh read; a lost race (CONFLICT) reads and tries again. */
  async #retry(fn: () => Promise<WriteOp[] | undefined>): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const ops = await fn();
      if (ops === undefined || ops.length === 0) return;
      try {
        await this.#store[kSystem].commit(ops);
        return;
      } catch (e) {
        if (!isCseError(e, 'CONFLICT') || attempt >= 50) throw e;
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

  /**
   * Records that `tier` created the change `syncId`, pending delivery. Idempotent; a change at or
   * below `syncedThrough` is already delivered and changes nothing. Writes one small document,
   * whatever the number of pending changes.
   */
  async recordChange(tier: Tier, syncId: number): Promise<void> {
    assertTier(tier);
    checkSyncId(syncId);
    const sys = this.#store[kSystem];
    const id = `${pendingPrefix(tier)}${syncId}`;
    const [state, existing] = await sys.getMany([
      { collection: SYNC_COLLECTION, id: STATE_ID },
      { collection: SYNC_COLLECTION, id },
    ]);
    const t = readTier(state && !state.deleted ? state.doc : undefined, tier);
    if (syncId <= t.syncedThrough || t.legacy.includes(syncId) || (existing !== undefined && !existing.deleted)) return;
    const body = sys.body(SYNC_COLLECTION, { id, syncId });
    const expect = existing === undefined ? { kind: 'absent' as const } : { kind: 'version' as const, version: existing.version };
    try {
      await sys.commit([{ collection: SYNC_COLLECTION, id, kind: 'put', body, expect }]);
    } catch (e) {
      if (!isCseError(e, 'CONFLICT')) throw e; // a concurrent call recorded it first
    }
  }

  /**
   * Records that the other tier has received `tier`'s changes up to `syncId`: they leave the
   * pending list and `syncedThrough` rises. With `{ peer }`, records it for that one peer only
   * (see `listPeers`). A lower `syncId` than already synced changes nothing (state never moves
   * backwards).
   */
  async markSynced(tier: Tier, syncId: number, options: PeerOptions = {}): Promise<void> {
    assertTier(tier);
    checkSyncId(syncId);
    const peer = checkPeer(options.peer);
    const sys = this.#store[kSystem];
    if (peer !== undefined) {
      const id = `${peerPrefix(tier)}${peer}`;
      await this.#retry(async () => {
        const [r] = await sys.getMany([{ collection: SYNC_COLLECTION, id }]);
        const live = r !== undefined && !r.deleted;
        if (live && syncId <= num(r.doc.syncedThrough)) return undefined;
        const body = sys.body(SYNC_COLLECTION, { id, peer, syncedThrough: syncId, updatedAt: Date.now() });
        return [{ collection: SYNC_COLLECTION, id, kind: 'put', body, expect: r === undefined ? { kind: 'absent' } : { kind: 'version', version: r.version } }];
      });
      return;
    }
    await this.#retry(async () => {
      const [state, docs] = await Promise.all([this.#state(), this.#scan(pendingPrefix(tier))]);
      const doc = state?.doc;
      const before = readTier(doc, tier);
      if (syncId <= before.syncedThrough) return undefined;
      const other: Tier = tier === Tier.Edge ? Tier.Frontend : Tier.Edge;
      const o = readTier(doc, other);
      const body = sys.body(SYNC_COLLECTION, {
        id: STATE_ID,
        [tier]: { syncedThrough: syncId, pending: before.legacy.filter((n) => n > syncId) },
        [other]: { syncedThrough: o.syncedThrough, pending: o.legacy },
      });
      const ops: WriteOp[] = [{ collection: SYNC_COLLECTION, id: STATE_ID, kind: 'put', body, expect: state === undefined ? { kind: 'absent' } : { kind: 'version', version: state.version } }];
      // Delivered pending documents go in the same commit (a bounded number at a time).
      for (const r of docs.filter((d) => num(d.doc.syncId) <= syncId).slice(0, SWEEP)) {
        ops.push({ collection: SYNC_COLLECTION, id: r.id, kind: 'delete', expect: { kind: 'version', version: r.version } });
      }
      return ops;
    });
  }

  /** Pending changes of `tier`, ascending (a copy). */
  async getPendingChanges(tier: Tier): Promise<number[]> {
    assertTier(tier);
    return [...(await this.#tierState(tier)).pending];
  }

  /**
   * The tier's state (a copy). With `{ peer }`, that peer's acknowledgement as `syncedThrough`
   * (0 for a peer never seen) and the tier's pending changes above it.
   */
  async getState(tier: Tier, options: PeerOptions = {}): Promise<TierState> {
    assertTier(tier);
    const peer = checkPeer(options.peer);
    const s = await this.#tierState(tier);
    if (peer === undefined) return { syncedThrough: s.syncedThrough, pending: [...s.pending] };
    const [r] = await this.#store[kSystem].getMany([{ collection: SYNC_COLLECTION, id: `${peerPrefix(tier)}${peer}` }]);
    const through = r && !r.deleted ? num(r.doc.syncedThrough) : 0;
    return { syncedThrough: through, pending: s.pending.filter((n) => n > through) };
  }

  /** Every peer that acknowledged `tier`'s changes (`markSynced` with a peer), lowest first. */
  async listPeers(tier: Tier): Promise<PeerState[]> {
    assertTier(tier);
    const docs = await this.#scan(peerPrefix(tier));
    return docs
      .map((r) => ({ peer: String(r.doc.peer), syncedThrough: num(r.doc.syncedThrough), updatedAt: num(r.doc.updatedAt) }))
      .sort((a, b) => a.syncedThrough - b.syncedThrough || (a.peer < b.peer ? -1 : a.peer > b.peer ? 1 : 0));
  }

  /**
   * The changes after `cursor` for the receiving `tier`, ascending by `_sync_id`, at most
   * `limit`, with the next cursor and whether more remain. Call again with the returned cursor
   * until `hasMore` is false. What a tier receives follows the roles: the Frontend receives every
   * registered collection (identity, desired, observed); the Edge receives only Desired
   * collections, the only documents a Frontend may write (S3).
   *
   * @throws `VALIDATION` (tier, cursor), `RESET_REQUIRED` (cursor from another epoch).
   */
  async getDeltaSince(tier: Tier, cursor: number, options: DeltaOptions = {}): Promise<Delta> {
    assertTier(tier);
    checkSyncId(cursor);
    let collections = this.#registry.collectionNames();
    if (tier === Tier.Edge) collections = collections.filter((c) => this.#registry.getMetadata(c).role === 'desired');
    if (collections.length === 0) return { changes: [], cursor, hasMore: false };
    return this.#store.changesSince(cursor, { collections, ...(options.limit === undefined ? {} : { limit: options.limit }) });
  }
}
