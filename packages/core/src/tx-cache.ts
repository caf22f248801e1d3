/**
 * TxCache: crash-resilient, SAGA-aware multi-step transactions.
 *
 * A transaction is a journal document in the system collection `_cse_tx`. `recordOp` persists
 * each operation before anything is applied. `commit` applies every operation AND marks the
 * journal committed in one atomic store commit, so after a crash a transaction is either fully
 * applied and marked committed, or not applied at all and still pending: `replay(getPending())`
 * then finishes it exactly once. Nothing lives only in memory: a new TxCache on the same store
 * (after a restart) sees everything.
 *
 * SAGA: transactions may name a saga and record compensating operations. `compensateSaga`
 * undoes the saga's committed steps in reverse order; each step's compensations are applied
 * together with the mark "compensated" in one atomic commit, so each runs exactly once, also
 * across a crash.
 */
import type { JsonObject, StoredRecord, WriteOp } from './adapter.js';
import { ConflictError, NotFoundError, ValidationError, isCseError } from './errors.js';
import { assertCollectionName, assertId, checkJson } from './json.js';
import { docKeyString } from './records.js';
import type { Store } from './store.js';
import { kSystem } from './system.js';

/** The system collection holding the journal. */
export const TX_COLLECTION = '_cse_tx';
/** Default age after which `cleanup` removes finished transactions: 24 h. */
export const DEFAULT_TX_TTL_MS = 24 * 60 * 60 * 1000;

export const OpType = { Insert: 'insert', Update: 'update', Upsert: 'upsert', Delete: 'delete' } as const;
export type OpType = (typeof OpType)[keyof typeof OpType];
const OP_TYPES: readonly string[] = Object.values(OpType);

export const TxStatus = {
  Pending: 'pending',
  Committed: 'committed',
  Failed: 'failed',
  RolledBack: 'rolled_back',
  Compensated: 'compensated',
} as const;
export type TxStatus = (typeof TxStatus)[keyof typeof TxStatus];

/** One recorded operation: a full document image (a redo log entry). */
export interface CachedOp {
  readonly opType: OpType;
  readonly collection: string;
  readonly id: string;
  /** The document (for delete: `{ id }`). */
  readonly doc: JsonObject;
  readonly recordedAt: string;
}

/** A transaction as stored. Returned objects are copies. */
export interface CachedTx {
  readonly txId: string;
  readonly status: TxStatus;
  readonly ops: readonly CachedOp[];
  /** Compensating operations (SAGA), applied in reverse order by `compensateSaga`. */
  readonly compensations: readonly CachedOp[];
  readonly saga: string | undefined;
  readonly metadata: JsonObject;
  readonly startedAt: string;
  /**
   * The `_sync_id` of the commit that began it: orders transactions exactly (clocks cannot,
   * two may start in one millisecond).
   */
  readonly seq: number;
  readonly finishedAt: string | undefined;
  /** `_sync_id` of the commit that applied it (orders the steps of a saga). */
  readonly commitSyncId: number | undefined;
  /** Why it failed, for `failed`. */
  readonly error: string | undefined;
}

/** Free metadata (JSON), e.g. `{ worker_id: 'w1' }`; a string `saga` names the saga this transaction is a step of. */
export type BeginOptions = Readonly<Record<string, unknown>> & { readonly saga?: string };

export interface ReplayReport {
  /** Transactions whose commit this call applied (a concurrent replayer reports them as `skipped`). */
  readonly committed: string[];
  /** Already finished, before or by a concurrent caller (nothing done by this call). */
  readonly skipped: string[];
  /** Transactions whose operations conflict with the store (marked `failed`). */
  readonly failed: { readonly txId: string; readonly error: Error }[];
}

function now(): string {
  return new Date().toISOString();
}

function toTx(record: StoredRecord): CachedTx {
  const d = record.doc;
  return {
    txId: record.id,
    status: d.status as TxStatus,
    ops: structuredClone((d.ops ?? []) as unknown as CachedOp[]),
    compensations: structuredClone((d.compensations ?? []) as unknown as CachedOp[]),
    saga: typeof d.saga === 'string' ? d.saga : undefined,
    metadata: structuredClone((d.metadata ?? {}) as JsonObject),
    startedAt: d.startedAt as string,
    // Until its first update the journal still carries the id of the commit that began it.
    seq: typeof d.seq === 'number' ? d.seq : record.syncId,
    finishedAt: typeof d.finishedAt === 'string' ? d.finishedAt : undefined,
    // A committed journal is never rewritten while committed (ops and rollback need a pending
    // one), so its record's id is the commit's; compensation stores it before moving on.
    commitSyncId: typeof d.commitSyncId === 'number' ? d.commitSyncId : d.status === TxStatus.Committed ? record.syncId : undefined,
    error: typeof d.error === 'string' ? d.error : undefined,
  };
}

function journalBody(tx: CachedTx): JsonObject {
  const body: JsonObject = {
    id: tx.txId,
    status: tx.status,
    ops: tx.ops as unknown as JsonObject[],
    compensations: tx.compensations as unknown as JsonObject[],
    metadata: tx.metadata,
    startedAt: tx.startedAt,
  };
  if (tx.seq > 0) body.seq = tx.seq;
  if (tx.saga !== undefined) body.saga = tx.saga;
  if (tx.finishedAt !== undefined) body.finishedAt = tx.finishedAt;
  if (tx.commitSyncId !== undefined) body.commitSyncId = tx.commitSyncId;
  if (tx.error !== undefined) body.error = tx.error;
  return body;
}

/** Folds ops on the same document into one write: the first op decides the precondition, the last the result. */
function foldOps(ops: readonly CachedOp[]): WriteOp[] {
  const byKey = new Map<string, { first: CachedOp; last: CachedOp }>();
  for (const op of ops) {
    const k = docKeyString(op.collection, op.id);
    const seen = byKey.get(k);
    if (seen) seen.last = op;
    else byKey.set(k, { first: op, last: op });
  }
  const writes: WriteOp[] = [];
  for (const { first, last } of byKey.values()) {
    const expect =
      first.opType === OpType.Insert ? ({ kind: 'absent' } as const) : first.opType === OpType.Upsert ? undefined : ({ kind: 'exists' } as const);
    const base = { collection: last.collection, id: last.id, ...(expect ? { expect } : {}) };
    if (last.opType !== OpType.Delete) writes.push({ ...base, kind: 'put', body: last.doc });
    else if (first.opType === OpType.Insert) writes.push({ ...base, kind: 'check' }); // created and deleted again: net nothing
    else writes.push({ ...base, kind: 'delete' });
  }
  return writes;
}

export class TxCache {
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
  }

  async #load(txId: string): Promise<{ tx: CachedTx; version: number }> {
    if (typeof txId !== 'string' || txId === '') throw new ValidationError('txId must be a non-empty string');
    const [record] = await this.#store[kSystem].getMany([{ collection: TX_COLLECTION, id: txId }]);
    if (record === undefined || record.deleted) throw new NotFoundError(`transaction ${JSON.stringify(txId)} not found`);
    return { tx: toTx(record), version: record.version };
  }

  /** Writes the journal (and `extra` writes) atomically, if the journal is still at `version`. */
  async #write(tx: CachedTx, version: number | 0, extra: readonly WriteOp[] = []): Promise<readonly StoredRecord[]> {
    const body = this.#store[kSystem].body(TX_COLLECTION, journalBody(tx));
    const journal: WriteOp = {
      collection: TX_COLLECTION,
      id: tx.txId,
      kind: 'put',
      body,
      expect: version === 0 ? { kind: 'absent' } : { kind: 'version', version },
    };
    return this.#store[kSystem].commit([...extra, journal]);
  }

  /** Read-modify-write of a journal, retried when a concurrent call on the same tx won. */
  async #update(txId: string, change: (tx: CachedTx) => CachedTx): Promise<CachedTx> {
    for (let attempt = 0; ; attempt++) {
      const { tx, version } = await this.#load(txId);
      const next = change(tx);
      try {
        await this.#write(next, version);
        return next;
      } catch (e) {
        if (!isCseError(e, 'CONFLICT') || attempt >= 20) throw e;
      }
    }
  }

  #pendingOnly(tx: CachedTx): void {
    if (tx.status !== TxStatus.Pending) {
      throw new ConflictError(`transaction ${JSON.stringify(tx.txId)} is ${tx.status}, not pending`);
    }
  }

  /**
   * Starts a transaction and persists it. Returns its id (a random UUID). `metadata` is kept
   * with it; `metadata.saga` (a string) makes it a step of that saga.
   *
   * @throws `VALIDATION` (metadata not a JSON object, empty saga).
   */
  async beginTx(metadata: BeginOptions = {}): Promise<string> {
    if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) throw new ValidationError('metadata must be an object');
    const saga = metadata.saga;
    if (saga !== undefined && (typeof saga !== 'string' || saga === '')) throw new ValidationError('saga must be a non-empty string');
    const checked = checkJson(metadata, 'metadata') as JsonObject;
    const tx: CachedTx = {
      txId: crypto.randomUUID(),
      status: TxStatus.Pending,
      ops: [],
      compensations: [],
      saga,
      metadata: checked,
      startedAt: now(),
      seq: 0, // unknown until committed: read back from the record (see toTx)
      finishedAt: undefined,
      commitSyncId: undefined,
      error: undefined,
    };
    await this.#write(tx, 0);
    return tx.txId;
  }

  #op(opType: OpType, collection: string, doc: unknown): CachedOp {
    if (!OP_TYPES.includes(opType)) throw new ValidationError(`unknown op type ${JSON.stringify(opType)} (insert, update, upsert, delete)`);
    assertCollectionName(collection);
    if (opType === OpType.Delete) {
      const id = (doc as { id?: unknown } | null)?.id;
      assertId(id);
      return { opType, collection, id, doc: { id }, recordedAt: now() };
    }
    const body = this.#store[kSystem].body(collection, doc);
    return { opType, collection, id: body.id as string, doc: body, recordedAt: now() };
  }

  /**
   * Persists one operation of a pending transaction (validated now, applied at `commit`).
   * `doc` is the full document (for `delete`, at least `{ id }`).
   *
   * @throws `VALIDATION`, `NOT_FOUND` (unknown tx), `CONFLICT` (tx not pending).
   */
  async recordOp(txId: string, opType: OpType, collection: string, doc: Readonly<Record<string, unknown>>): Promise<void> {
    const op = this.#op(opType, collection, doc);
    await this.#update(txId, (tx) => {
      this.#pendingOnly(tx);
      return { ...tx, ops: [...tx.ops, op] };
    });
  }

  /** Persists a compensating operation for this step of its saga (undo of what the step does). */
  async recordCompensation(txId: string, opType: OpType, collection: string, doc: Readonly<Record<string, unknown>>): Promise<void> {
    const op = this.#op(opType, collection, doc);
    await this.#update(txId, (tx) => {
      this.#pendingOnly(tx);
      if (tx.saga === undefined) throw new ValidationError(`transaction ${JSON.stringify(txId)} belongs to no saga`);
      return { ...tx, compensations: [...tx.compensations, op] };
    });
  }

  /**
   * Applies every recorded op and marks the transaction committed, in one atomic commit.
   * Committing a committed transaction is a no-op. If the ops conflict with the store (an
   * insert of an existing id, an update of a missing one), nothing is applied, the transaction
   * is marked `failed` and the `ConflictError` is thrown.
   *
   * @throws `NOT_FOUND`, `CONFLICT` (ops conflict; or the tx was rolled back or failed).
   */
  async commit(txId: string): Promise<void> {
    await this.#commit(txId);
  }

  /** `commit`; true when this call's store commit applied the transaction, false when it was committed already. */
  async #commit(txId: string): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      const { tx, version } = await this.#load(txId);
      if (tx.status === TxStatus.Committed) return false;
      this.#pendingOnly(tx);
      const writes = foldOps(tx.ops);
      const done: CachedTx = { ...tx, status: TxStatus.Committed, finishedAt: now() };
      try {
        await this.#write(done, version, writes);
        return true;
      } catch (e) {
        if (!isCseError(e, 'CONFLICT')) throw e;
        const fresh = await this.#load(txId);
        if (fresh.version !== version) {
          if (attempt < 20) continue; // the journal moved (a concurrent recordOp or commit): look again
          throw e;
        }
        await this.#update(txId, (t) => ({ ...t, status: TxStatus.Failed, finishedAt: now(), error: (e as Error).message }));
        throw e;
      }
    }
  }

  /** Abandons a pending transaction (nothing was applied). Rolling back twice is a no-op. */
  async rollback(txId: string): Promise<void> {
    await this.#update(txId, (tx) => {
      if (tx.status === TxStatus.RolledBack) return tx;
      this.#pendingOnly(tx);
      return { ...tx, status: TxStatus.RolledBack, finishedAt: now() };
    });
  }

  /** One transaction, or `undefined`. */
  async getTx(txId: string): Promise<CachedTx | undefined> {
    try {
      return (await this.#load(txId)).tx;
    } catch (e) {
      if (isCseError(e, 'NOT_FOUND')) return undefined;
      throw e;
    }
  }

  async #all(): Promise<CachedTx[]> {
    const records = await this.#store[kSystem].scan(TX_COLLECTION);
    return records
      .filter((r) => !r.deleted)
      .map(toTx)
      .sort((a, b) => a.seq - b.seq || (a.txId < b.txId ? -1 : 1));
  }

  /** Every pending transaction, read from the store (so it works after a restart), oldest first. */
  async getPending(): Promise<CachedTx[]> {
    return (await this.#all()).filter((tx) => tx.status === TxStatus.Pending);
  }

  /**
   * Finishes transactions (typically `getPending()` after a restart): commits each that is still
   * pending, in order. Exactly once: a transaction already committed (by an earlier replay or
   * before the crash) is skipped, so replaying twice changes nothing.
   */
  async replay(pending: readonly CachedTx[] | readonly string[]): Promise<ReplayReport> {
    const report: ReplayReport = { committed: [], skipped: [], failed: [] };
    for (const item of pending) {
      const txId = typeof item === 'string' ? item : item.txId;
      const current = await this.getTx(txId);
      if (current === undefined || current.status !== TxStatus.Pending) {
        report.skipped.push(txId);
        continue;
      }
      try {
        // Another replayer (another process, or a concurrent call) may commit it between the
        // read above and this commit: only the call whose commit applied it reports it.
        if (await this.#commit(txId)) report.committed.push(txId);
        else report.skipped.push(txId);
      } catch (e) {
        if (!isCseError(e, 'CONFLICT')) throw e;
        report.failed.push({ txId, error: e });
      }
    }
    return report;
  }

  /**
   * Undoes a saga: for each committed step, newest first, applies its compensations (in reverse
   * order of recording) and marks the step `compensated`, atomically per step. Steps already
   * compensated are skipped, so calling it again (after a crash) finishes the rest exactly once.
   * Pending steps of the saga are rolled back. Returns the ids of the steps compensated now.
   */
  async compensateSaga(saga: string): Promise<string[]> {
    if (typeof saga !== 'string' || saga === '') throw new ValidationError('saga must be a non-empty string');
    const steps = (await this.#all()).filter((tx) => tx.saga === saga);
    for (const step of steps) if (step.status === TxStatus.Pending) await this.rollback(step.txId);
    const committed = steps
      .filter((tx) => tx.status === TxStatus.Committed)
      .sort((a, b) => (b.commitSyncId ?? 0) - (a.commitSyncId ?? 0));
    const done: string[] = [];
    for (const step of committed) {
      const { tx, version } = await this.#load(step.txId);
      if (tx.status !== TxStatus.Committed) continue;
      const undo = foldOps([...tx.compensations].reverse().map((op) => ({ ...op })));
      await this.#write({ ...tx, status: TxStatus.Compensated, finishedAt: now() }, version, undo);
      done.push(tx.txId);
    }
    return done;
  }

  /**
   * Removes finished transactions (committed, failed, rolled back, compensated) older than
   * `ttlMs` (default 24 h). Pending ones are never removed. No cap on how many. Returns the count.
   */
  async cleanup(ttlMs: number = DEFAULT_TX_TTL_MS): Promise<number> {
    if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs < 0) throw new ValidationError('ttl must be a non-negative number of ms');
    const cutoff = Date.now() - ttlMs;
    let removed = 0;
    for (const tx of await this.#all()) {
      if (tx.status === TxStatus.Pending || tx.finishedAt === undefined) continue;
      if (Date.parse(tx.finishedAt) > cutoff) continue;
      const { version } = await this.#load(tx.txId);
      try {
        await this.#store[kSystem].commit([{ collection: TX_COLLECTION, id: tx.txId, kind: 'delete', expect: { kind: 'version', version } }]);
        removed++;
      } catch (e) {
        if (!isCseError(e, 'CONFLICT')) throw e; // changed meanwhile: leave it for the next run
      }
    }
    return removed;
  }
}
