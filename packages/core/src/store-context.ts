/**
 * What every part of a Store shares: its adapter, whether it is closed, the document checks with
 * its size limit, and the one path by which it commits and turns failed preconditions into
 * typed errors. `Store` owns one; `transaction.ts`, `changes.ts`, `find.ts` and `system.ts` work
 * through it.
 */
import type { CommitFailure, DocKey, JsonObject, StorageAdapter, StoredRecord, WriteOp } from './adapter.js';
import type { ChangeFeed } from './change-feed.js';
import { ClosedError, ConflictError, NotFoundError, toBackendError } from './errors.js';
import { documentBody, documentKey } from './documents.js';
import { assertCommitRequest } from './records.js';

/** How the Store writes: one entry of a commit, before the adapter sees it. */
export interface PlannedWrite {
  readonly op: WriteOp;
  /** What a failed precondition means for the caller. */
  readonly onFail: 'conflict' | 'not-found' | 'exists';
}

export class StoreContext {
  readonly adapter: StorageAdapter;
  readonly feed: ChangeFeed;
  readonly #maxBytes: number;
  readonly #clock: () => Date;
  closed = false;

  constructor(adapter: StorageAdapter, feed: ChangeFeed, maxBytes: number, clock: () => Date) {
    this.adapter = adapter;
    this.feed = feed;
    this.#maxBytes = maxBytes;
    this.#clock = clock;
  }

  /** Throws `CLOSED` once the store is closed. */
  open(): void {
    if (this.closed) throw new ClosedError();
  }

  /** Validates a document and returns the user's fields, copied (metadata stripped). */
  body(collection: string, doc: unknown, allowSystem = false, replica = false, collectionChecked = false): JsonObject {
    return documentBody(collection, doc, { maxBytes: this.#maxBytes, allowSystem, replica, collectionChecked });
  }

  key(collection: string, id: unknown, allowSystem = false): DocKey {
    return documentKey(collection, id, allowSystem);
  }

  /** Calls the adapter; anything it throws that is not a `CseError` becomes `BACKEND`. */
  async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    this.open();
    try {
      return await fn();
    } catch (e) {
      throw toBackendError(e, what);
    }
  }

  /** Commits atomically and wakes this store's watchers; a failed precondition becomes its typed error. */
  async commit(writes: readonly PlannedWrite[]): Promise<readonly StoredRecord[]> {
    const now = this.#clock().toISOString();
    const request = { writes: writes.map((w) => w.op), now };
    // The adapter must reject a malformed commit too; checking here keeps that off its write path.
    assertCommitRequest(request);
    const result = await this.call('commit failed', () => this.adapter.commit(request));
    if (result.ok) {
      if (result.records.length > 0) this.feed.wake();
      return result.records;
    }
    throw failure(writes, result.failures);
  }
}

function failure(writes: readonly PlannedWrite[], failures: readonly CommitFailure[]): Error {
  const first = failures[0] as CommitFailure;
  const write = writes[first.index] as PlannedWrite;
  const { collection, id } = write.op;
  const live = first.current !== undefined && !first.current.deleted;
  const current = live ? (first.current as StoredRecord).doc : undefined;
  const where = `${collection}/${JSON.stringify(id)}`;
  const details = { collection, id };
  if (write.onFail === 'not-found' && !live) return new NotFoundError(`${where} does not exist`, { details });
  if (write.onFail === 'exists') return new ConflictError(`${where} already exists`, current, { details });
  const expect = write.op.expect;
  const wanted = expect?.kind === 'version' ? `version ${expect.version}` : expect?.kind === 'absent' ? 'no document' : 'a document';
  const found = live ? `version ${(first.current as StoredRecord).version}` : 'no document';
  return new ConflictError(`${where}: expected ${wanted}, found ${found}`, current, { details });
}
