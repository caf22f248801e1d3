/**
 * FrontendSync: keeps a replica of the Edge's documents in a local Store and sends the user's
 * Desired writes back.
 *
 * Local state, all in the replica's own store so it survives a reload or a crash:
 * - the documents, each with the Edge's `_edge_sync_id`/`_edge_version` and `_sync_status`;
 * - `_cse_replica/state`: the Edge epoch, this replica's client id and a cursor per collection
 *   (`replica-state.ts`);
 * - `_cse_outbox`: one entry per document with a pending write (`outbox.ts`);
 * - `_cse_shadow`: the Edge's newest state of a document while a local write to it is pending
 *   (`apply-page.ts`).
 * The connection loop, status and progress are in `session.ts`. A page and the cursors it moves
 * are one local commit (S2); so is a local write and its outbox entry (S3). Every change of local
 * state runs in one queue, so pages, results and writes never interleave.
 */
import type { JsonObject, Registry, Store, StoredRecord } from '@cse/core';
import { CseError, ErrorCode, ValidationError } from '@cse/core';
import type { AdminOp } from './admin.js';
import { AdminClient } from './admin.js';
import type { ConflictInfo } from './apply-page.js';
import type { Grant } from './grants.js';
import { canRead, canWrite } from './grants.js';
import { Outbox } from './outbox.js';
import type { WriteOutcome } from './outcomes.js';
import { Outcomes } from './outcomes.js';
import { DEFAULT_MAX_FRAME, MAX_WORKER_ID } from './protocol.js';
import { OUTBOX_COLLECTION, REPLICA_COLLECTION, ReplicaState, SHADOW_COLLECTION, userPart } from './replica-state.js';
import type { ReplicaUpgrade } from './replica-upgrade.js';
import { upgradeReplica } from './replica-upgrade.js';
import type { SyncProgress, SyncStatus } from './session.js';
import { SaveQueue } from './save-queue.js';
import { SessionLoop } from './session.js';
import type { Connect } from './transport.js';

export type { ConflictInfo } from './apply-page.js';
export type { WriteOutcome } from './outcomes.js';
export type { ReplicaUpgrade } from './replica-upgrade.js';
export { OUTBOX_COLLECTION, REPLICA_COLLECTION, SHADOW_COLLECTION } from './replica-state.js';
export type { SyncProgress, SyncStatus } from './session.js';

/** What the Frontend follows: worker types (all three collections of each) and/or collections. Default: every registered collection. */
export interface Subscription {
  readonly workerTypes?: readonly string[];
  readonly collections?: readonly string[];
}

export interface FrontendSyncOptions {
  /** The local store that holds the replica (IndexedDB in a browser). */
  readonly store: Store;
  /** The same worker types and collections as the Edge's registry. */
  readonly registry: Registry;
  /** Opens a connection to the Edge (direct WebSocket, or the relay's encrypted channel). */
  readonly connect: Connect;
  readonly subscription?: Subscription;
  /** Ping interval; the connection is dropped after 3 silent intervals. Default 15 000 ms. */
  readonly heartbeatMs?: number;
  /** A write without a result for this long drops the connection (the reconnect sends it again). Default 15 000 ms. */
  readonly resultTimeoutMs?: number;
  /** Reconnect backoff, doubling from `min` to `max` ms with jitter. Default 200 to 5000. */
  readonly backoff?: { readonly min: number; readonly max: number };
  /**
   * Once live, how long the connection may stay behind the Edge's head (a commit larger than a
   * page arrives in several) before the status says `syncing` again. Default 2000 ms; 0 says
   * `syncing` on every page that leaves it behind.
   */
  readonly liveGraceMs?: number;
  readonly maxFrame?: number;
  /** Clock for `_synced_at`. */
  readonly clock?: () => Date;
  /**
   * When the relay or Edge refuses this Frontend as revoked: also delete the local replica
   * (documents, pending writes, cursors) so nothing of the Edge stays on this device. Default false.
   */
  readonly wipeOnRevoke?: boolean;
}

export interface SaveDesiredOptions {
  /**
   * The Edge `_version` the user's edit is based on (what the form showed). Default: the version
   * the replica holds when `saveDesired` runs. A base the Edge has moved past is a conflict.
   */
  readonly baseVersion?: number;
}

/** What `saveDesired` resolves to: the local document, plus (not enumerable, so it stays a plain document to spread or compare) its write id and outcome. */
export type SavedDesired = JsonObject & {
  /** This write's id (`outcome(writeId)`, `onOutcome` events). */
  readonly writeId: string;
  /** Resolves with what became of this write on the Edge. */
  readonly result: Promise<WriteOutcome>;
};

export class FrontendSync {
  readonly store: Store;
  readonly registry: Registry;
  readonly #state: ReplicaState;
  readonly #outbox: Outbox;
  readonly #session: SessionLoop;
  readonly #saves: SaveQueue;
  readonly #outcomes = new Outcomes();
  #loaded: Promise<void> | undefined;
  #grant: Grant | undefined;
  #updateRequired: readonly string[] = [];
  #upgrades: readonly ReplicaUpgrade[] = [];
  readonly #admin = new AdminClient();

  constructor(options: FrontendSyncOptions) {
    this.store = options.store;
    this.registry = options.registry;
    this.#state = new ReplicaState(options.store, options.registry, options.clock ?? (() => new Date()), this.#resolve(options.subscription));
    this.#outbox = new Outbox(this.#state);
    const wipe = options.wipeOnRevoke === true;
    this.#session = new SessionLoop(this.#state, this.#outbox, this.#outcomes, options.connect, {
      heartbeatMs: options.heartbeatMs ?? 15_000,
      resultTimeoutMs: options.resultTimeoutMs ?? 15_000,
      backoff: options.backoff ?? { min: 200, max: 5000 },
      liveGraceMs: options.liveGraceMs ?? 2000,
      maxFrame: options.maxFrame ?? DEFAULT_MAX_FRAME,
      onRevoked: async (e) => {
        if (wipe) await this.#wipe(e);
      },
      onGrant: (grant) => this.#applyGrant(grant),
      admin: this.#admin,
      schemas: () => {
        const types = new Set(this.#state.collections.map((c) => this.registry.getMetadata(c).workerType));
        return Object.fromEntries([...types].sort().map((t) => [t, this.registry.getSchemaVersion(t)]));
      },
      onUpdateRequired: (types) => {
        this.#updateRequired = types;
      },
    });
    this.#saves = new SaveQueue(this.#state, this.#outbox, (entries) => this.#session.offer(entries));
  }

  // ---- public API ------------------------------------------------------------------------

  /**
   * Connection state: `offline` (no link, retrying), `connecting`, `syncing` (catching up),
   * `live`, `stopped`, `revoked` (the relay or Edge refused this Frontend for good: no retries;
   * `lastError` is the `REVOKED` error).
   */
  get status(): SyncStatus {
    return this.#session.status;
  }

  get progress(): SyncProgress {
    return this.#session.progress;
  }

  /** Why the last connection was dropped by this side (a `PROTOCOL` error from a broken Edge message), if it was. */
  get lastError(): unknown {
    return this.#session.lastError;
  }

  /** Writes not yet acknowledged by the Edge. */
  get pending(): number {
    return this.#outbox.size;
  }

  /**
   * What the Edge lets this Frontend read and write, as it last said (in `welcome` or when it
   * changed); undefined before the first welcome and from an Edge that does not limit it. The
   * Edge enforces it: this copy is for the application (hide what it may not do).
   */
  get grant(): Grant | undefined {
    return this.#grant;
  }

  /**
   * Worker types the Edge cannot serve in this Frontend's schema version (S12), as its last
   * welcome said: their documents do not sync and their writes wait (kept pending) until one
   * side is updated; the other types sync as usual. Empty when all are served.
   */
  get updateRequired(): readonly string[] {
    return this.#updateRequired;
  }

  /**
   * What loading the replica did to bring it to this registry's schema versions (S12): per worker
   * type whose version changed since the replica was written, converted in place or resynced.
   * Empty before `start()` (or the first write) and when nothing changed.
   */
  get schemaUpgrades(): readonly ReplicaUpgrade[] {
    return this.#upgrades;
  }

  /** False when the grant, as last heard, does not let this Frontend write the Desired of `workerType`. */
  mayWrite(workerType: string): boolean {
    const { desired } = this.registry.getTriangularCollections(workerType);
    return this.#grant === undefined || canWrite(this.#grant, { collection: desired, ...this.registry.getMetadata(desired) });
  }

  /**
   * Administration through the sync channel, for a Frontend with an `admin` grant (the Edge
   * checks): `'pair'` `{ grant: 'viewer' | 'operator' | 'admin' | Grant, types?, label?, ttlMs? }`
   * resolves to `{ code, expiresAt, grant }` (a one-time code for another device); `'grant'`
   * `{ frontendId, grant, types? }`; `'revoke'` `{ frontendId }`; `'list'` resolves to `{ paired }`.
   * `'history'` `{ collection, id, limit? }` (no admin grant needed, only one that reads that Desired
   * collection) resolves to `{ history: AppliedWrite[] }`: the writes the Edge applied, newest first.
   * @throws `FORBIDDEN` (not an admin; for `history`, a grant that does not read the collection), `CLOSED` (no live session), `VALIDATION`, `NOT_FOUND`.
   */
  admin(op: AdminOp, args: JsonObject = {}): Promise<JsonObject> {
    return this.#admin.request(this.#session.liveTransport, op, args);
  }

  /** The followed collections. */
  get collections(): readonly string[] {
    return [...this.#state.collections];
  }

  /** The cursor of each followed collection (a copy). */
  get cursors(): Readonly<Record<string, number>> {
    return { ...this.#state.cursors };
  }

  /**
   * Resolves once the replica is live (caught up with the Edge) and every local write has its
   * result: `await frontend.settled()` before reading what the Edge has. Rejects on `signal`
   * abort, and with the `REVOKED` error once this Frontend is revoked.
   */
  settled(signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const check = (): void => {
        const revoked = this.#session.revoked;
        if (revoked !== undefined || (this.#session.status === 'live' && this.#outbox.size === 0)) {
          off();
          signal?.removeEventListener('abort', abort);
          if (revoked !== undefined) reject(revoked);
          else resolve();
        }
      };
      const abort = (): void => {
        off();
        reject(signal?.reason ?? new Error('aborted'));
      };
      const off = this.onStatus(check);
      signal?.addEventListener('abort', abort, { once: true });
      check();
    });
  }

  /** Calls `listener` on every status or progress change; returns the unsubscribe function. */
  onStatus(listener: (status: SyncStatus, progress: SyncProgress) => void): () => void {
    return this.#session.onStatus(listener);
  }

  /** Loads the local state and starts connecting (and reconnecting) until `stop()`. */
  async start(): Promise<void> {
    if (this.#session.running) return;
    await this.#load();
    this.#session.start();
  }

  /** Closes the connection and stops reconnecting; local reads and writes keep working. */
  async stop(): Promise<void> {
    await this.#session.stop();
  }

  /** Drops the current connection (it reconnects at once). For tests and "retry now" buttons. */
  reconnect(): void {
    this.#session.reconnect();
  }

  /** Calls `listener` with every write's outcome (also for writes made before a reload); returns the unsubscribe function. */
  onOutcome(listener: (outcome: WriteOutcome) => void): () => void {
    return this.#outcomes.on(listener);
  }

  /**
   * The outcome of write `writeId` (`saveDesired(...).writeId`), once the Edge has answered.
   * Outcomes of this instance's last 1000 writes are kept; a write still pending at a reload
   * resolves in the new instance.
   */
  outcome(writeId: string): Promise<WriteOutcome> {
    return this.#outcomes.wait(writeId);
  }

  /**
   * Writes a Desired document locally at once (`_sync_status: 'pending'`), queues it durably and
   * sends it when connected, based on the Edge version the replica holds (or `baseVersion`).
   * Resolves at the local commit with the local document; its `result` resolves with the write's
   * outcome on the Edge.
   *
   * @throws `VALIDATION` (bad document or base version, unknown worker type), `FORBIDDEN` (not followed).
   */
  async saveDesired(workerType: string, workerId: string, doc: Readonly<Record<string, unknown>>, options: SaveDesiredOptions = {}): Promise<SavedDesired> {
    const collection = this.#desiredOf(workerType);
    if (typeof workerId !== 'string' || workerId.length === 0 || workerId.length > MAX_WORKER_ID) {
      throw new ValidationError(`a worker id is a string of 1 to ${MAX_WORKER_ID} characters`);
    }
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new ValidationError('a desired document must be a plain object');
    for (const k of Object.keys(doc)) if (k.startsWith('_')) throw new ValidationError(`field ${JSON.stringify(k)}: fields starting with "_" are reserved`);
    if (doc.id !== undefined && doc.id !== workerId) throw new ValidationError('the document id differs from the worker id');
    const baseVersion = options.baseVersion;
    if (baseVersion !== undefined && (typeof baseVersion !== 'number' || !Number.isSafeInteger(baseVersion) || baseVersion < 0)) {
      throw new ValidationError('baseVersion must be a non-negative integer');
    }
    await this.#load();
    const { entry, doc: saved, settled } = await this.#saves.save({ collection, workerId, doc, baseVersion });
    for (const o of settled) this.#outcomes.settle(o);
    const out = { ...saved };
    Object.defineProperty(out, 'writeId', { value: entry.w, enumerable: false });
    Object.defineProperty(out, 'result', { value: this.#outcomes.wait(entry.w), enumerable: false });
    return out as SavedDesired;
  }

  /**
   * Resolves a conflict: `'mine'` writes the refused value again, based on the Edge's current
   * version; `'theirs'` keeps the Edge's document and drops the refused value.
   *
   * @throws `NOT_FOUND` (no conflict on that document), `VALIDATION`.
   */
  async resolveConflict(workerType: string, workerId: string, choice: 'mine' | 'theirs'): Promise<JsonObject> {
    const collection = this.#desiredOf(workerType);
    if (choice !== 'mine' && choice !== 'theirs') throw new ValidationError('choice is "mine" or "theirs"');
    const doc = await this.store.get(collection, workerId);
    const conflict = doc?._conflict as ConflictInfo | undefined;
    if (doc === undefined || doc._sync_status !== 'conflict' || conflict === undefined) {
      throw new CseError(ErrorCode.NOT_FOUND, `${workerType}/${JSON.stringify(workerId)} has no conflict`);
    }
    if (choice === 'mine') return this.saveDesired(workerType, workerId, conflict.value);
    return this.#state.serial(async () => {
      // The Edge has no document here: keeping theirs removes the local one, as a page would.
      if (conflict.edgeDeleted === true) {
        await this.#state.replica.commit([{ collection, id: workerId, kind: 'delete' }]);
        return { id: workerId };
      }
      const [r] = await this.#state.replica.commit([
        { collection, id: workerId, kind: 'put', body: { ...userPart(doc), _edge_sync_id: doc._edge_sync_id, _edge_version: doc._edge_version, _sync_status: 'synced', _synced_at: this.#state.now() } },
      ]);
      return (r as StoredRecord).doc;
    });
  }

  /**
   * Changes what is followed. Widening fetches the added collections from the beginning (the Edge
   * catches them up to the others without a gap); narrowing removes the documents left out, in
   * one local commit. Reconnects.
   *
   * @throws `VALIDATION` (unknown names, or narrowing away a collection with pending writes).
   */
  async setSubscription(subscription: Subscription): Promise<void> {
    const next = this.#resolve(subscription);
    await this.#load();
    const state = this.#state;
    await state.serial(async () => {
      const removed = state.collections.filter((c) => !next.includes(c));
      for (const e of this.#outbox.entries()) {
        if (removed.includes(e.c)) throw new ValidationError(`${e.c} still has pending writes; wait until they are sent, or keep it in the subscription`);
      }
      const writes: { collection: string; id: string; kind: 'delete' }[] = [];
      for (const c of removed) {
        for (const r of await state.replica.scan(c)) if (!r.deleted) writes.push({ collection: c, id: r.id, kind: 'delete' });
      }
      const cursors = Object.fromEntries(Object.entries(state.cursors).filter(([c]) => next.includes(c)));
      await state.replica.commit([...writes, state.stateWrite(state.epoch, cursors)]);
      state.cursors = cursors;
      state.collections = next;
    });
    this.reconnect();
  }

  // ---- local state -----------------------------------------------------------------------

  #resolve(sub: Subscription | undefined): string[] {
    const names = new Set<string>();
    if (sub === undefined || (sub.workerTypes === undefined && sub.collections === undefined)) {
      for (const c of this.registry.collectionNames()) names.add(c);
    }
    for (const t of sub?.workerTypes ?? []) {
      const c = this.registry.getTriangularCollections(t);
      names.add(c.identity);
      names.add(c.desired);
      names.add(c.observed);
    }
    for (const c of sub?.collections ?? []) {
      if (!this.registry.isRegistered(c)) throw new ValidationError(`collection ${c} is not registered`);
      names.add(c);
    }
    return [...names].sort();
  }

  #desiredOf(workerType: string): string {
    const { desired } = this.registry.getTriangularCollections(workerType);
    if (!this.#state.collections.includes(desired)) {
      throw new CseError(ErrorCode.FORBIDDEN, `${desired} is not in this Frontend's subscription`);
    }
    return desired;
  }

  /**
   * A grant from the Edge. Collections it no longer lets this Frontend read leave the
   * subscription at once (the next hello leaves them out), and their documents, pending writes
   * (outcome: refused, `FORBIDDEN`) and cursors leave the replica in one commit, as for a
   * narrowed subscription. Writes it may still read but no longer write come back refused from
   * the Edge.
   */
  #applyGrant(grant: Grant): void {
    this.#grant = grant;
    const state = this.#state;
    const removed = new Set(state.collections.filter((c) => !canRead(grant, { collection: c, ...this.registry.getMetadata(c) })));
    if (removed.size > 0) {
      state.collections = state.collections.filter((c) => !removed.has(c));
      state
        .serial(async () => {
          const writes: { collection: string; id: string; kind: 'delete' }[] = [];
          for (const c of removed) for (const r of await state.replica.scan(c)) if (!r.deleted) writes.push({ collection: c, id: r.id, kind: 'delete' });
          const dropped = [...this.#outbox.entries()].filter((e) => removed.has(e.c));
          for (const e of dropped) writes.push({ collection: OUTBOX_COLLECTION, id: e.key, kind: 'delete' }, { collection: SHADOW_COLLECTION, id: e.key, kind: 'delete' });
          const cursors = Object.fromEntries(Object.entries(state.cursors).filter(([c]) => !removed.has(c)));
          await state.replica.commit([...writes, state.stateWrite(state.epoch, cursors)]);
          state.cursors = cursors;
          for (const entry of dropped) {
            this.#outbox.forget(entry.key);
            for (const w of entry.prev ? [entry.prev, entry] : [entry]) {
              this.#outcomes.settle({ kind: 'refused', writeId: w.w, collection: entry.c, id: entry.id, value: w.body, code: 'FORBIDDEN', message: `this Frontend's grant no longer covers ${entry.c}` });
            }
          }
          this.#session.updateProgress({});
        })
        .catch(() => undefined); // a closing store: the next welcome narrows again
    }
    this.#session.updateProgress({});
  }

  /** Deletes the replica: documents, pending writes (their outcomes: refused, `REVOKED`), shadows, cursors. */
  async #wipe(e: CseError): Promise<void> {
    const state = this.#state;
    const writes: { collection: string; id: string; kind: 'delete' }[] = [];
    for (const c of [...this.registry.collectionNames(), OUTBOX_COLLECTION, SHADOW_COLLECTION, REPLICA_COLLECTION]) {
      for (const r of await state.replica.scan(c)) if (!r.deleted) writes.push({ collection: c, id: r.id, kind: 'delete' });
    }
    await state.replica.commit(writes);
    const dropped = [...this.#outbox.entries()];
    for (const entry of dropped) this.#outbox.forget(entry.key);
    state.cursors = {};
    state.epoch = null;
    for (const entry of dropped) {
      for (const w of entry.prev ? [entry.prev, entry] : [entry]) {
        this.#outcomes.settle({ kind: 'refused', writeId: w.w, collection: entry.c, id: entry.id, value: w.body, code: 'REVOKED', message: e.message });
      }
    }
  }

  #load(): Promise<void> {
    this.#loaded ??= this.#state.serial(async () => {
      await this.#state.load();
      await this.#outbox.load();
      const { upgrades, outcomes } = await upgradeReplica(this.#state, this.#outbox);
      this.#upgrades = Object.freeze(upgrades);
      for (const o of outcomes) this.#outcomes.settle(o);
      this.#session.updateProgress({});
    });
    return this.#loaded;
  }
}
