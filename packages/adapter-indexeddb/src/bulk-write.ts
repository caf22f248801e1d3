import { unwrap } from 'idb';
import type { IDBPTransaction } from 'idb';
import { buildRecord, meetsExpectation, planCommit } from '@cse/core';
import type { CommitRequest, CommitResult, SequenceState, StoredRecord } from '@cse/core';
import type { CseSchema } from './schema.js';
import { DOCS, META, SEQUENCE_KEY } from './schema.js';

/**
 * A commit of many new documents without reading each one first.
 *
 * Every write needs the stored record it replaces (version continuity, `_created_at`, the
 * precondition). Reading it is one `get` per document, and in Chromium a request costs about as
 * much as the write itself: an initial sync or a batch insert writes documents that are not there
 * yet, so most of those reads find nothing. This path writes each record with `add`, which fails
 * with `ConstraintError` exactly where a document (or a tombstone) already holds the key; only
 * those are read, rebuilt on what is stored (same sync id) and `put`. All of it happens in the
 * commit's one transaction, so atomicity and the id order are those of the classic path.
 *
 * Used only where the result cannot differ from reading first: no `check` writes, no `exists` or
 * `version` preconditions (`absent` is checked on what `add` found), and no declared secondary
 * index on the written collections (moving entries needs every previous record). A write whose
 * `absent` precondition fails throws `Replan`: the caller aborts and commits the classic way,
 * which reports every failure with its current record.
 */

type Tx = IDBPTransaction<CseSchema, ('docs' | 'meta' | 'indexes' | 'idx')[], 'readwrite'>;

/** Fewer writes than this go the classic way: their cost is the transaction, not the reads. */
export const BULK_MIN_WRITES = 8;
/** After a bulk commit that found this share of its keys taken, the next commits read first. */
const TAKEN_SHARE = 0.25;
/** How many commits read first after such a commit (then bulk is tried again). */
const BACK_OFF = 16;

/** Thrown inside the transaction when a precondition failed: abort, then commit the classic way. */
export class Replan extends Error {}

/** Whether to try the bulk path, learning from how the last bulk commits went. */
export class BulkChooser {
  #skip = 0;

  wants(request: CommitRequest): boolean {
    if (request.writes.length < BULK_MIN_WRITES) return false;
    for (const w of request.writes) if (w.kind === 'check' || (w.expect !== undefined && w.expect.kind !== 'absent')) return false;
    if (this.#skip > 0) {
      this.#skip--;
      return false;
    }
    return true;
  }

  /** A bulk commit of `writes` found `taken` keys already stored (or failed: `taken = writes`). */
  learn(writes: number, taken: number): void {
    if (taken > writes * TAKEN_SHARE) this.#skip = BACK_OFF;
  }
}

/** `add` of one record: true when it landed, false when its key is taken (the error is handled: the transaction goes on). */
function add(store: IDBObjectStore, record: StoredRecord): Promise<boolean> {
  return new Promise<boolean>((resolve, reject) => {
    const request = store.add(record);
    request.onsuccess = () => resolve(true);
    request.onerror = (event) => {
      if (request.error?.name !== 'ConstraintError') {
        reject(request.error ?? new Error('add failed'));
        return;
      }
      // Keep the transaction alive: this key is read and written again below.
      event.preventDefault();
      event.stopPropagation();
      resolve(false);
    };
  });
}

/**
 * The bulk commit in `tx` (see above), on collections without declared indexes; `current` is the
 * counter read in it. Resolves with the result, the new counter and how many keys were taken.
 * @throws `Replan` (a precondition failed: abort `tx`).
 */
export async function bulkWrite(tx: Tx, request: CommitRequest, current: SequenceState): Promise<{ result: CommitResult; lastSyncId: number; taken: number }> {
  const writes = request.writes;
  const planned = planCommit(request, new Array<StoredRecord | undefined>(writes.length).fill(undefined), current.lastSyncId);
  if (!planned.result.ok) throw new Replan('a precondition fails on an empty store');
  const records = planned.result.records.slice();
  const store = unwrap(tx.objectStore(DOCS)) as unknown as IDBObjectStore;
  const landed = await Promise.all(records.map((r) => add(store, r)));
  const takenAt: number[] = [];
  landed.forEach((ok, i) => {
    if (!ok) takenAt.push(i);
  });
  if (takenAt.length > 0) {
    const docs = tx.objectStore(DOCS);
    const prevs = await Promise.all(takenAt.map((i) => docs.get([records[i]!.collection, records[i]!.id])));
    takenAt.forEach((i, k) => {
      const prev = prevs[k];
      // No record under the key: the ConstraintError came from elsewhere (the unique sync-id index).
      if (prev === undefined) throw new Error(`add of ${records[i]!.collection}/${JSON.stringify(records[i]!.id)} failed with ConstraintError, and no record holds its key`);
      if (!meetsExpectation(prev, writes[i]!.expect)) throw new Replan('a precondition failed');
    });
    // Every precondition holds: only now the writes (a request left pending at an abort would reject unheard).
    const puts = takenAt.map((i, k) => {
      records[i] = buildRecord(prevs[k], writes[i]!, records[i]!.syncId, request.now);
      return docs.put(records[i]!);
    });
    await Promise.all(puts);
  }
  await tx.objectStore(META).put({ lastSyncId: planned.lastSyncId, compactedThrough: current.compactedThrough }, SEQUENCE_KEY);
  return { result: { ok: true, records }, lastSyncId: planned.lastSyncId, taken: takenAt.length };
}
