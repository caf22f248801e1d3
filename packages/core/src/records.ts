import type { CommitFailure, CommitRequest, CommitResult, Expectation, JsonObject, StoredRecord, WriteOp } from './adapter.js';

/** Metadata field names, as in the original package. */
export const Field = {
  id: 'id',
  syncId: '_sync_id',
  version: '_version',
  createdAt: '_created_at',
  updatedAt: '_updated_at',
  deleted: '_deleted',
  deletedAt: '_deleted_at',
  syncedAt: '_synced_at',
  syncStatus: '_sync_status',
  /** Replica documents only (written through `Replica`): the Edge's `_sync_id` of this state. */
  edgeSyncId: '_edge_sync_id',
  /** Replica documents only: the Edge's `_version` of this state. */
  edgeVersion: '_edge_version',
  /** Replica documents only: a write the Edge rejected, kept for the application to resolve. */
  conflict: '_conflict',
} as const;

/** True when `prev` satisfies `expect`. */
export function meetsExpectation(prev: StoredRecord | undefined, expect: Expectation | undefined): boolean {
  if (expect === undefined) return true;
  const live = prev !== undefined && !prev.deleted;
  switch (expect.kind) {
    case 'absent':
      return !live;
    case 'exists':
      return live;
    case 'version':
      return live && prev.version === expect.version;
  }
}

/**
 * Builds the record that `write` leaves behind, given the stored `prev`. Versions continue from a
 * tombstone, so a re-created document never reuses a version an old writer may still expect.
 */
export function buildRecord(prev: StoredRecord | undefined, write: WriteOp, syncId: number, now: string): StoredRecord {
  const version = (prev?.version ?? 0) + 1;
  if (write.kind === 'delete') {
    const createdAt = prev?.doc[Field.createdAt];
    const doc: JsonObject = {
      id: write.id,
      [Field.syncId]: syncId,
      [Field.version]: version,
      [Field.createdAt]: typeof createdAt === 'string' ? createdAt : now,
      [Field.updatedAt]: now,
      [Field.deleted]: true,
      [Field.deletedAt]: now,
    };
    return { collection: write.collection, id: write.id, syncId, version, deleted: true, doc };
  }
  const createdAt = prev !== undefined && !prev.deleted ? prev.doc[Field.createdAt] : undefined;
  // The same as `{ ...write.body, id, _sync_id, ... }`, which V8 (Node 20) builds far more
  // slowly than a copy followed by plain stores: it matters at a thousand records per batch.
  // Object.assign sets properties, so a body holding an own "__proto__" takes the spread.
  const body = write.body ?? {};
  const doc: JsonObject = Object.prototype.hasOwnProperty.call(body, '__proto__') ? { ...body } : Object.assign({}, body);
  doc.id = write.id;
  doc._sync_id = syncId;
  doc._version = version;
  doc._created_at = typeof createdAt === 'string' ? createdAt : now;
  doc._updated_at = now;
  return { collection: write.collection, id: write.id, syncId, version, deleted: false, doc };
}

/**
 * The pure heart of every adapter's `commit`: given the stored records of the writes (same
 * order as `request.writes`) and the last id of the counter, returns either the failures or the
 * records to store and the new counter value. An adapter calls it inside its atomic unit, then
 * writes `records` and `lastSyncId`.
 */
export function planCommit(
  request: CommitRequest,
  prevs: readonly (StoredRecord | undefined)[],
  lastSyncId: number,
): { result: CommitResult; lastSyncId: number } {
  const failures: CommitFailure[] = [];
  const writes = request.writes;
  for (let index = 0; index < writes.length; index++) {
    const prev = prevs[index];
    if (!meetsExpectation(prev, (writes[index] as WriteOp).expect)) failures.push({ index, current: prev });
  }
  if (failures.length > 0) return { result: { ok: false, failures }, lastSyncId };
  const records: StoredRecord[] = [];
  let next = lastSyncId;
  for (let index = 0; index < writes.length; index++) {
    const write = writes[index] as WriteOp;
    if (write.kind === 'check') continue;
    next += 1;
    records.push(buildRecord(prevs[index], write, next, request.now));
  }
  return { result: { ok: true, records }, lastSyncId: next };
}

/** Rebuilds a record from a stored document (adapters that keep only the JSON use this). */
export function recordFromDoc(collection: string, doc: JsonObject): StoredRecord {
  const syncId = doc[Field.syncId];
  const version = doc[Field.version];
  const id = doc[Field.id];
  return {
    collection,
    id: typeof id === 'string' ? id : String(id),
    syncId: typeof syncId === 'number' ? syncId : 0,
    version: typeof version === 'number' ? version : 0,
    deleted: doc[Field.deleted] === true,
    doc,
  };
}

/** A unique string for a (collection, id) pair; safe for any id. */
export function docKeyString(collection: string, id: string): string {
  return `${collection}\u0000${id}`;
}
