import { unwrap } from 'idb';
import type { IDBPTransaction } from 'idb';
import { buildRecord, meetsExpectation, planCommit } from '@cse/core';
import type { CommitRequest, CommitResult, SequenceState, StoredRecord, WriteOp } from '@cse/core';
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
 * Writes with an `exists` or `version` precondition, and `check`s, are read first as in the
 * classic path; `absent` is checked on what `add` found. Not used on collections with a declared
 * secondary index (moving entries needs every previous record). A failed precondition throws
 * `Replan`: the caller aborts and commits the classic way, which reports every failure with its
 * current record.
 */

type Tx = IDBPTransaction<CseSchema, ('docs' | 'meta' | 'indexes' | 'idx')[], 'readwrite'>;

/** Fewer writes that need no read than this: the classic way (their cost is the transaction, not the reads). */
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
    let unread = 0;
    for (const w of request.writes) if (!readsFirst(w)) unread++;
    if (unread < BULK_MIN_WRITES) return false;
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
  const docs = tx.objectStore(DOCS);
  // Writes whose precondition needs the stored record (and `check`s) are read first, as classically.
  const prevs = new Array<StoredRecord | undefined>(writes.length).fill(undefined);
  const readFirst = writes.flatMap((w, i) => (readsFirst(w) ? [i] : []));
  if (readFirst.length > 0) {
    const read = await Promise.all(readFirst.map((i) => docs.get([writes[i]!.collection, writes[i]!.id])));
    readFirst.forEach((i, k) => (prevs[i] = read[k]));
  }
  const planned = planCommit(request, prevs, current.lastSyncId);
  // A failure among those read: the classic way reports every failure, the unread ones too.
  if (!planned.result.ok) throw new Replan('a precondition failed');
  const records = planned.result.records.slice();
  // Which write each record belongs to (`check`s have none).
  const writeOf = writes.flatMap((w, i) => (w.kind === 'check' ? [] : [i]));
  const store = unwrap(docs) as unknown as IDBObjectStore;
  const landed = await Promise.all(records.map((r, k) => (prevs[writeOf[k]!] === undefined ? add(store, r) : docs.put(r).then(() => true))));
  const takenAt: number[] = [];
  landed.forEach((ok, k) => {
    if (!ok) takenAt.push(k);
  });
  if (takenAt.length > 0) {
    const taken = await Promise.all(takenAt.map((k) => docs.get([records[k]!.collection, records[k]!.id])));
    takenAt.forEach((k, j) => {
      const prev = taken[j];
      // No record under the key: the ConstraintError came from elsewhere (the unique sync-id index).
      if (prev === undefined) throw new Error(`add of ${records[k]!.collection}/${JSON.stringify(records[k]!.id)} failed with ConstraintError, and no record holds its key`);
      if (!meetsExpectation(prev, writes[writeOf[k]!]!.expect)) throw new Replan('a precondition failed');
    });
    // Every precondition holds: only now the writes (a request left pending at an abort would reject unheard).
    const puts = takenAt.map((k, j) => {
      records[k] = buildRecord(taken[j], writes[writeOf[k]!]!, records[k]!.syncId, request.now);
      return docs.put(records[k]!);
    });
    await Promise.all(puts);
  }
  await tx.objectStore(META).put({ lastSyncId: planned.lastSyncId, compactedThrough: current.compactedThrough }, SEQUENCE_KEY);
  return { result: { ok: true, records }, lastSyncId: planned.lastSyncId, taken: takenAt.length };
}

/** A write whose precondition (or `check`) needs the stored record before anything is written. */
function readsFirst(w: WriteOp): boolean {
  return w.kind === 'check' || (w.expect !== undefined && w.expect.kind !== 'absent');
}
