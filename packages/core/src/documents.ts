/**
 * Documents: their types as the Store takes and returns them, and what the Store accepts as a
 * document, key or expected version (validation before anything is written, and the copy of the
 * user's fields that goes to the adapter).
 */
import type { DocKey, Expectation, JsonObject, JsonValue, StoredRecord } from './adapter.js';
import { ValidationError, describeValue } from './errors.js';
import { optionsOf, readInput } from './input-checks.js';
import { assertCollectionName, assertId, copyJson } from './json.js';
import { Field } from './records.js';

/** The fields the Store sets on every document it returns. */
export interface DocMeta {
  id: string;
  _sync_id: number;
  _version: number;
  _created_at: string;
  _updated_at: string;
}

/**
 * A document as the Store returns it: the user's fields plus the metadata. `T` is the
 * application's type for the fields (`store.get<Pump>('pumps', id)` → `Pump & DocMeta`). The
 * Store does not check a stored document against `T` when reading: like a cast, the type
 * argument is the application's claim about that collection. Default: any JSON object.
 */
export type Doc<T extends object = JsonObject> = T & DocMeta;

/**
 * A document as callers pass it in: any JSON object with a string `id`, or, typed, a `T`
 * (`store.insert<Pump>('pumps', pump)` checks `pump` against `Pump` at compile time).
 */
export type DocInput<T extends object = Readonly<Record<string, unknown>>> = { readonly id: string } & T;

export interface WriteOptions {
  /**
   * The `_version` the stored document must have for the write to go through; `0` means "must
   * not exist". A mismatch is a `ConflictError` carrying the current document. Metadata inside
   * the document itself is never used for this check.
   */
  readonly expectedVersion?: number;
}

/** A stored record's document, typed as the Store returns it. */
export function asDoc(record: StoredRecord): Doc {
  return record.doc as Doc;
}

/** Metadata the Store sets on every document; never taken from the caller. */
export const SYSTEM_KEYS = new Set<string>([Field.syncId, Field.version, Field.createdAt, Field.updatedAt, Field.deleted, Field.deletedAt]);
const SYNC_STATUS = new Set(['pending', 'synced', 'conflict']);
/** Replica metadata: kept only on the replica write path, dropped (never trusted) elsewhere. */
const REPLICA_KEYS = new Set<string>([Field.edgeSyncId, Field.edgeVersion, Field.conflict]);

/** How a document is validated (see `documentBody`). */
export interface BodyOptions {
  /** Largest document, UTF-8 JSON bytes of the user's fields. */
  readonly maxBytes: number;
  /** `_`-collections are allowed (the CSE components of this package). */
  readonly allowSystem?: boolean;
  /** Replica metadata (`_edge_sync_id`, ...) is kept (the sync replica's write path). */
  readonly replica?: boolean;
  /** The caller checked the collection name already (a batch checks it once). */
  readonly collectionChecked?: boolean;
}

/**
 * Validates a document and returns the user's fields, copied (metadata stripped). A document
 * whose getters or proxy traps throw while it is read is `VALIDATION` too.
 */
export function documentBody(collection: string, doc: unknown, options: BodyOptions): JsonObject {
  return readInput('the document', () => checkedBody(collection, doc, options));
}

function checkedBody(collection: string, doc: unknown, options: BodyOptions): JsonObject {
  if (options.collectionChecked !== true) assertCollectionName(collection, options.allowSystem === true);
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ValidationError(`a document must be a plain object, got ${doc === null ? 'null' : Array.isArray(doc) ? 'an array' : typeof doc}`);
  }
  const id = (doc as Record<string, unknown>).id;
  assertId(id);
  if (Object.getOwnPropertySymbols(doc).length > 0) throw new ValidationError('a document has symbol keys, which JSON cannot carry');
  const keys = Object.keys(doc);
  // Usually no field starts with "_": then the document itself is checked and serialised, with
  // no intermediate copy (a plain object's own enumerable keys are exactly what JSON writes).
  let plain = Object.getPrototypeOf(doc) === Object.prototype;
  for (let i = 0; plain && i < keys.length; i++) if ((keys[i] as string).charCodeAt(0) === 95) plain = false;
  const fields: Record<string, unknown> = plain ? (doc as Record<string, unknown>) : {};
  for (const key of plain ? [] : keys) {
    const value = (doc as Record<string, unknown>)[key];
    if (key.startsWith('_')) {
      if (SYSTEM_KEYS.has(key)) continue; // never trusted: the Store sets them itself
      if (REPLICA_KEYS.has(key)) {
        if (options.replica !== true) continue; // set only by a sync replica (see replica.ts)
        if (key !== Field.conflict && value !== undefined && (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)) {
          throw new ValidationError(`${key} must be a non-negative integer`);
        }
      } else if (key === Field.syncStatus) {
        if (value !== undefined && !SYNC_STATUS.has(value as string)) {
          throw new ValidationError(`_sync_status must be "pending", "synced" or "conflict", got ${JSON.stringify(value)}`);
        }
      } else if (key === Field.schema) {
        if (value !== undefined && (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1)) {
          throw new ValidationError(`_schema must be an integer ≥ 1 (the document's schema version), got ${describeValue(value)}`);
        }
      } else if (key === Field.syncedAt) {
        if (value !== undefined && typeof value !== 'string') throw new ValidationError('_synced_at must be a string (ISO 8601)');
      } else {
        throw new ValidationError(`field ${JSON.stringify(key.slice(0, 80))} starts with "_", which is reserved for the system`, {
          details: { field: key },
        });
      }
    }
    // A top-level "__proto__" never gets here (it starts with "_", so it is rejected above);
    // nested ones are copied as data by jsonText/JSON.parse below.
    fields[key] = value;
  }
  // One walk checks and copies; the JSON text is made only for a document near the size limit.
  return copyJson(fields, options.maxBytes, () => `document ${JSON.stringify(id.slice(0, 80))}`);
}

/** Validates a collection name and id. */
export function documentKey(collection: string, id: unknown, allowSystem = false): DocKey {
  assertCollectionName(collection, allowSystem);
  assertId(id);
  return { collection, id };
}

/** Snapshots `WriteOptions` (`VALIDATION` for `null`, a non-object or a throwing getter). */
export function writeOptions(options: WriteOptions | undefined): WriteOptions {
  return optionsOf(options, 'write options', ['expectedVersion']);
}

/** Validates `WriteOptions.expectedVersion`. */
export function checkVersion(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new ValidationError(`expectedVersion must be a non-negative integer, got ${describeValue(v)}`);
  }
  return v;
}

/** The precondition for an `expectedVersion` (0: must not exist), or `fallback` without one. */
export function expectationFor(expectedVersion: number | undefined, fallback: Expectation | undefined): Expectation | undefined {
  if (expectedVersion === undefined) return fallback;
  return expectedVersion === 0 ? { kind: 'absent' } : { kind: 'version', version: expectedVersion };
}

/** Extracts the user's fields of a stored document (drops metadata). */
export function userFields(doc: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(doc)) {
    if (!SYSTEM_KEYS.has(k) && !REPLICA_KEYS.has(k)) Object.defineProperty(out, k, { value: v as JsonValue, enumerable: true, writable: true, configurable: true });
  }
  return out;
}
