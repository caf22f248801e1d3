import type { CommitFailure, CommitRequest, CommitResult, Expectation, JsonObject, StoredRecord, WriteOp } from './adapter.js';
import { ValidationError, describeValue } from './errors.js';

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
  /** The schema version the document was written with (worker types with versions; absent means 1). */
  schema: '_schema',
  /** Replica documents only (written through `Replica`): the Edge's `_sync_id` of this state. */
  edgeSyncId: '_edge_sync_id',
  /** Replica documents only: the Edge's `_version` of this state. */
  edgeVersion: '_edge_version',
  /** Replica documents only: a write the Edge rejected, kept for the application to resolve. */
  conflict: '_conflict',
} as const;

/**
 * Throws `VALIDATION` unless `expect` is a well-formed `Expectation` (or `undefined`): an object
 * `{ kind: 'absent' }`, `{ kind: 'exists' }` or `{ kind: 'version', version }` with `version` a
 * non-negative integer. A malformed one is never read as "no precondition" or as a mismatch.
 */
export function assertExpectation(expect: unknown, where = 'expect'): asserts expect is Expectation | undefined {
  if (expect === undefined) return;
  if (expect === null || typeof expect !== 'object' || Array.isArray(expect)) {
    throw new ValidationError(`${where} must be { kind: 'absent' | 'exists' | 'version', version? }, got ${expect === null ? 'null' : describeValue(expect)}`);
  }
  const { kind, version } = expect as { kind?: unknown; version?: unknown };
  if (kind === 'absent' || kind === 'exists') return;
  if (kind !== 'version') throw new ValidationError(`${where}.kind must be "absent", "exists" or "version", got ${describeValue(kind)}`);
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0) {
    throw new ValidationError(`${where}.version must be a non-negative integer, got ${describeValue(version)}`);
  }
}

const KINDS = new Set(['put', 'delete', 'check']);

/**
 * Throws `VALIDATION` unless `request` is a well-formed commit: `writes` an array of objects with
 * string `collection` and `id`, `kind` one of `put`/`delete`/`check`, an object `body` for a
 * `put`, and a well-formed `expect` (see `assertExpectation`). `planCommit` calls it, so an
 * adapter that plans with it rejects a malformed commit before it writes; an adapter that does
 * not (a script, a stored procedure) calls it first thing in `commit`.
 */
export function assertCommitRequest(request: CommitRequest): void {
  const writes: unknown = request?.writes;
  if (!Array.isArray(writes)) throw new ValidationError(`a commit's writes must be an array, got ${describeValue(writes)}`);
  for (let i = 0; i < writes.length; i++) {
    const w: unknown = writes[i];
    if (w === null || typeof w !== 'object') throw new ValidationError(`writes[${i}] must be an object, got ${w === null ? 'null' : describeValue(w)}`, { details: { index: i } });
    const { collection, id, kind, body, expect } = w as Record<string, unknown>;
    if (typeof collection !== 'string' || typeof id !== 'string') throw new ValidationError(`writes[${i}]: collection and id must be strings`, { details: { index: i } });
    if (typeof kind !== 'string' || !KINDS.has(kind)) throw new ValidationError(`writes[${i}].kind must be "put", "delete" or "check", got ${describeValue(kind)}`, { details: { index: i } });
    if (kind === 'put' && (body === null || typeof body !== 'object' || Array.isArray(body))) {
      throw new ValidationError(`writes[${i}]: a put needs an object body`, { details: { index: i } });
    }
    try {
      assertExpectation(expect, `writes[${i}].expect`);
    } catch (e) {
      if (e instanceof ValidationError) throw new ValidationError(e.message, { details: { index: i } });
      throw e;
    }
  }
}

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
 *
 * @throws `VALIDATION` for a malformed request (`assertCommitRequest`), before anything is planned.
 */
export function planCommit(
  request: CommitRequest,
  prevs: readonly (StoredRecord | undefined)[],
  lastSyncId: number,
): { result: CommitResult; lastSyncId: number } {
  assertCommitRequest(request);
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
