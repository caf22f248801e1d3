/**
 * TriangularStore: the FSM v2 model. Each worker has an Identity (immutable), a Desired state
 * (what the user wants) and an Observed state (what is). The three live in the collections the
 * Registry names for the worker type; the worker id is the document id in each.
 */
import type { JsonObject, StoredRecord } from './adapter.js';
import { ConflictError, ValidationError, isCseError } from './errors.js';
import { assertId, jsonEqual } from './json.js';
import { docKeyString } from './records.js';
import type { Registry, TriangularCollections } from './registry.js';
import { SCHEMA_FIELD, assertSchemaVersion, convertDoc, schemaVersionOf, updateRequired } from './migrations.js';
import type { Doc, DocInput, WriteOptions } from './documents.js';
import { userFields } from './documents.js';
import { withRetry } from './retry.js';
import type { Store } from './store.js';
import { kSystem } from './system.js';

/** What a save did. */
export interface SaveResult {
  /** The stored document after the call. */
  readonly doc: Doc;
  /** False when the content equalled the stored document, so nothing was written. */
  readonly changed: boolean;
  /**
   * True when the save's `receipt` was found: the same write was applied before, nothing was
   * written now (`doc` is then the current document, `undefined` if it was deleted since).
   */
  readonly duplicate?: boolean;
  /** With `duplicate`: the stored receipt; its `version` is the version that write produced (receipts written before it was kept have none). */
  readonly receipt?: JsonObject;
}

/** The system collection of save receipts (`SaveOptions.receipt`). */
export const RECEIPT_COLLECTION = '_cse_receipts';

export interface SaveOptions extends WriteOptions {
  /**
   * Makes the save idempotent (for writes that arrive over a network and may arrive twice): the
   * receipt `id` is recorded in the same atomic commit as the save; a later save with the same
   * receipt id writes nothing and reports `duplicate: true`. Needs `expectedVersion`. `body` is
   * kept with the receipt (plain JSON, e.g. who sent it).
   */
  readonly receipt?: { readonly id: string; readonly body?: Readonly<Record<string, unknown>> };
  /**
   * The schema version the document is written in (a Frontend of an older release): it is
   * upgraded to the worker type's current version before it is checked and applied. Default: the
   * document's `_schema`, else the current version. A document that cannot be upgraded is
   * refused (`VALIDATION`, or `UPDATE_REQUIRED` for a version newer than this side's) and nothing
   * is written.
   */
  readonly schemaVersion?: number;
}

/** What `TriangularStore.migrate` did. */
export interface MigrateResult {
  /** Documents rewritten at the current version. */
  readonly migrated: number;
  /** Atomic commits made. */
  readonly batches: number;
}

/** Options of `TriangularStore.migrate`. */
export interface MigrateOptions {
  /** Documents per atomic commit (default 100). */
  readonly batchSize?: number;
  /** Called after each committed batch (progress). */
  readonly onBatch?: (progress: { readonly workerType: string; readonly role: Part; readonly migrated: number }) => void;
}

/** One consistent read of a worker's three documents (`undefined` where one is missing). */
export interface Snapshot {
  readonly identity: Doc | undefined;
  readonly desired: Doc | undefined;
  readonly observed: Doc | undefined;
}

type Part = 'identity' | 'desired' | 'observed';
const PARTS: readonly Part[] = ['identity', 'desired', 'observed'];

/** How often a save re-reads after losing a race it did not ask to detect. */
const INTERNAL_RETRIES = 20;
/** Documents whose last seen version a TriangularStore remembers. */
const MAX_HINTS = 10_000;

export class TriangularStore {
  readonly #store: Store;
  readonly #registry: Registry;
  readonly #hints = new Map<string, { version: number; text: string }>();

  constructor(store: Store, registry: Registry) {
    this.#store = store;
    this.#registry = registry;
  }

  /** The worker type's collections; an unregistered type is the caller's mistake, so `VALIDATION`. */
  #collections(workerType: string): TriangularCollections {
    try {
      return this.#registry.getTriangularCollections(workerType);
    } catch (e) {
      if (!isCseError(e, 'NOT_FOUND')) throw e;
      throw new ValidationError(
        `worker type ${JSON.stringify(workerType)} is not registered (${e.message}): call registry.registerCollection(name, ${JSON.stringify(workerType)}, role) for identity, desired and observed, or registry.registerWorkerType(${JSON.stringify(workerType)}), first`,
        { cause: e },
      );
    }
  }

  /**
   * The document as written at the worker type's current version: upgraded from the writer's
   * version (`schemaVersion`, else its `_schema`, else current) and stamped. Unversioned types
   * are left as they are.
   */
  #upgradeInput(workerType: string, input: DocInput, part: Part, schemaVersion: number | undefined): DocInput {
    const schema = this.#registry.getWorkerSchema(workerType);
    const given = (input as Record<string, unknown>)[SCHEMA_FIELD];
    const from = schemaVersion ?? (given === undefined ? schema.version : given);
    assertSchemaVersion(from, `the schema version of the ${part} document for "${input.id}"`);
    if (from > schema.version) throw updateRequired(workerType, from, schema.version);
    if (schema.version === 1 && given === undefined) return input;
    return convertDoc(workerType, schema, part, input as unknown as JsonObject, from, schema.version) as unknown as DocInput;
  }

  /** A stored document seen at the current version (lazy upgrade on read; nothing is written). */
  #view(workerType: string, part: Part, doc: Doc | undefined): Doc | undefined {
    if (doc === undefined) return undefined;
    const schema = this.#registry.getWorkerSchema(workerType);
    const at = schemaVersionOf(doc);
    if (at === schema.version) return doc;
    const meta: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(doc)) if (k.startsWith('_') && k !== SCHEMA_FIELD) meta[k] = v;
    return { ...convertDoc(workerType, schema, part, userFields(doc), at, schema.version), ...meta } as Doc;
  }

  #input(id: string, doc: unknown, part: Part): DocInput {
    assertId(id);
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
      throw new ValidationError(`${part} document for "${id}" must be a plain object`);
    }
    const given = (doc as Record<string, unknown>).id;
    if (given !== undefined && given !== id) {
      throw new ValidationError(`${part} document id ${JSON.stringify(given)} differs from the worker id ${JSON.stringify(id)}`);
    }
    // A copy with the id; Object.assign then a store is much faster in V8 than `{ ...doc, id }`
    // (an own "__proto__" key takes the spread, so it stays data and is rejected as "_"-prefixed).
    const fields = doc as Record<string, unknown>;
    const input: Record<string, unknown> = Object.prototype.hasOwnProperty.call(fields, '__proto__') ? { ...fields } : Object.assign({}, fields);
    input.id = id;
    return input as DocInput;
  }

  /**
   * Saves the worker's identity. The first save inserts it; saving the same content again is a
   * no-op (`changed: false`); saving a different identity is a `ConflictError` (identity is
   * immutable). Also safe when two callers race on the first save.
   *
   * @throws `VALIDATION`, `VALIDATION` (also for a worker type not registered), `CONFLICT`.
   */
  async saveIdentity(workerType: string, id: string, doc: Readonly<Record<string, unknown>>): Promise<SaveResult> {
    const { identity } = this.#collections(workerType);
    const input = this.#upgradeInput(workerType, this.#input(id, doc, 'identity'), 'identity', undefined);
    for (let attempt = 0; ; attempt++) {
      try {
        return { doc: await this.#store.insert(identity, input), changed: true };
      } catch (e) {
        if (!isCseError(e, 'CONFLICT') || attempt >= INTERNAL_RETRIES) throw e;
        const current = (e as ConflictError).current as Doc | undefined;
        if (current === undefined) continue; // deleted meanwhile: try again
        if (this.#same(identity, this.#view(workerType, 'identity', current) as Doc, input)) return { doc: current, changed: false };
        throw new ConflictError(`identity of ${workerType}/${JSON.stringify(id)} is immutable and differs from the stored one`, current, {
          details: { collection: identity, id },
        });
      }
    }
  }

  /**
   * Saves the worker's desired state (full replacement). Equal content writes nothing and
   * returns `changed: false`. With `expectedVersion` a stale writer gets a `ConflictError`;
   * without it, create-or-update is still atomic (a lost race is re-read and retried).
   */
  async saveDesired(workerType: string, id: string, doc: Readonly<Record<string, unknown>>, options: SaveOptions = {}): Promise<SaveResult> {
    if (options.receipt !== undefined) return this.#saveWithReceipt(workerType, id, doc, options);
    return this.#save(workerType, id, doc, 'desired', options);
  }

  async #saveWithReceipt(workerType: string, id: string, doc: unknown, options: SaveOptions): Promise<SaveResult> {
    const collection = this.#collections(workerType).desired;
    const input = this.#upgradeInput(workerType, this.#input(id, doc, 'desired'), 'desired', options.schemaVersion);
    const sys = this.#store[kSystem];
    const body = sys.body(collection, input);
    const expected = options.expectedVersion;
    if (typeof expected !== 'number' || !Number.isSafeInteger(expected) || expected < 0) {
      throw new ValidationError('a save with a receipt needs expectedVersion (a non-negative integer)');
    }
    const receiptKey = { collection: RECEIPT_COLLECTION, id: sys.body(RECEIPT_COLLECTION, { id: options.receipt?.id }).id as string };
    const [seen, current] = await sys.getMany([receiptKey, { collection, id }]);
    const live = current && !current.deleted ? (current.doc as Doc) : undefined;
    if (seen !== undefined && !seen.deleted) return { doc: live as Doc, changed: false, duplicate: true, receipt: seen.doc };
    const unchanged = live !== undefined && live._version === expected && jsonEqual(userFields(live), body);
    // The version this write produces, kept so a duplicate's answer can name it (the commit's
    // precondition makes the state read here the one it applies to).
    const version = unchanged ? expected : (current?.version ?? 0) + 1;
    const receipt = sys.body(RECEIPT_COLLECTION, { ...options.receipt?.body, id: receiptKey.id, at: new Date().toISOString(), version });
    const expect = expected === 0 ? ({ kind: 'absent' } as const) : ({ kind: 'version', version: expected } as const);
    try {
      const records = await sys.commit([
        ...(unchanged ? [] : [{ collection, id, kind: 'put' as const, body, expect }]),
        { collection: RECEIPT_COLLECTION, id: receiptKey.id, kind: 'put', body: receipt, expect: { kind: 'absent' } },
      ]);
      if (unchanged) return { doc: live, changed: false };
      const saved = (records[0] as StoredRecord).doc as Doc;
      this.#remember(docKeyString(collection, id), saved._version, body);
      return { doc: saved, changed: true };
    } catch (e) {
      if (!isCseError(e, 'CONFLICT')) throw e;
      // Lost a race: if the receipt appeared meanwhile, a concurrent copy of this write won.
      const [again, now] = await sys.getMany([receiptKey, { collection, id }]);
      if (again === undefined || again.deleted) throw e;
      return { doc: (now && !now.deleted ? now.doc : undefined) as Doc, changed: false, duplicate: true, receipt: again.doc };
    }
  }

  /** Saves the worker's observed state; same rules as `saveDesired`. A 10 Hz poll with unchanged content burns no sync ids. */
  saveObserved(workerType: string, id: string, doc: Readonly<Record<string, unknown>>, options: WriteOptions & { readonly schemaVersion?: number } = {}): Promise<SaveResult> {
    return this.#save(workerType, id, doc, 'observed', options);
  }

  #same(collection: string, current: Doc, input: DocInput): boolean {
    const body = this.#store[kSystem].body(collection, input);
    return jsonEqual(userFields(current), body);
  }

  /** Remembers the last version this instance saw of a document, to save in one round trip. */
  #remember(key: string, version: number, body: JsonObject): void {
    this.#hints.delete(key);
    // A private copy, as JSON text: records handed to callers may share nested objects with
    // `body`, and a string costs a fraction of a structuredClone (parsed only when compared).
    this.#hints.set(key, { version, text: JSON.stringify(body) });
    if (this.#hints.size > MAX_HINTS) this.#hints.delete(this.#hints.keys().next().value as string);
  }

  async #save(workerType: string, id: string, doc: unknown, part: 'desired' | 'observed', options: WriteOptions & { readonly schemaVersion?: number }): Promise<SaveResult> {
    const collection = this.#collections(workerType)[part];
    const input = this.#upgradeInput(workerType, this.#input(id, doc, part), part, options.schemaVersion);
    const body = this.#store[kSystem].body(collection, input);
    const key = docKeyString(collection, id);
    const expected = options.expectedVersion;
    if (expected !== undefined) {
      const current = await this.#store.get(collection, id);
      if (current !== undefined && current._version === expected && jsonEqual(userFields(current), body)) return { doc: current, changed: false };
      const saved = await this.#store.upsert(collection, input, { expectedVersion: expected });
      this.#remember(key, saved._version, body);
      return { doc: saved, changed: true };
    }
    // Optimistic: write against the version we last saw (or "absent"). A conflict carries the
    // current document, which tells whether the content is unchanged or which version to expect.
    // So a first save, a changed save and an unchanged save each cost one round trip.
    const remembered = this.#hints.get(key);
    let hint: { version: number } | undefined = remembered;
    if (remembered !== undefined && jsonEqual(JSON.parse(remembered.text) as JsonObject, body)) {
      const current = await this.#store.get(collection, id);
      if (current !== undefined && jsonEqual(userFields(current), body)) {
        this.#remember(key, current._version, body);
        return { doc: current, changed: false };
      }
      hint = current === undefined ? undefined : { version: current._version };
    }
    let version = hint?.version ?? 0;
    for (let attempt = 0; ; attempt++) {
      try {
        // `body` is validated already: commit it as it is (one validation per save).
        const expect = version === 0 ? ({ kind: 'absent' } as const) : ({ kind: 'version', version } as const);
        const [record] = await this.#store[kSystem].commit([{ collection, id, kind: 'put', body, expect }]);
        const saved = (record as StoredRecord).doc as Doc;
        this.#remember(key, saved._version, body);
        return { doc: saved, changed: true };
      } catch (e) {
        if (!isCseError(e, 'CONFLICT') || attempt >= INTERNAL_RETRIES) throw e;
        const current = (e as ConflictError).current as Doc | undefined;
        if (current !== undefined && jsonEqual(userFields(current), body)) {
          this.#remember(key, current._version, body);
          return { doc: current, changed: false };
        }
        version = current?._version ?? 0;
      }
    }
  }

  /** The worker's identity, or `undefined`. */
  async loadIdentity(workerType: string, id: string): Promise<Doc | undefined> {
    return this.#view(workerType, 'identity', await this.#store.get(this.#collections(workerType).identity, id));
  }

  /** The worker's desired state, or `undefined`. */
  async loadDesired(workerType: string, id: string): Promise<Doc | undefined> {
    return this.#view(workerType, 'desired', await this.#store.get(this.#collections(workerType).desired, id));
  }

  /** The worker's observed state, or `undefined`. */
  async loadObserved(workerType: string, id: string): Promise<Doc | undefined> {
    return this.#view(workerType, 'observed', await this.#store.get(this.#collections(workerType).observed, id));
  }

  /** All three documents from one consistent snapshot of the store (one multi-get). */
  async loadSnapshot(workerType: string, id: string): Promise<Snapshot> {
    assertId(id);
    const c = this.#collections(workerType);
    const records = await this.#store[kSystem].getMany([
      { collection: c.identity, id },
      { collection: c.desired, id },
      { collection: c.observed, id },
    ]);
    const live = (r: StoredRecord | undefined): Doc | undefined => (r && !r.deleted ? (r.doc as Doc) : undefined);
    return {
      identity: this.#view(workerType, 'identity', live(records[0])),
      desired: this.#view(workerType, 'desired', live(records[1])),
      observed: this.#view(workerType, 'observed', live(records[2])),
    };
  }

  /**
   * Deletes the worker: tombstones for each of its documents that exists, in one atomic commit,
   * so the deletion syncs. Returns how many documents were deleted (0 when none existed).
   */
  async deleteWorker(workerType: string, id: string): Promise<number> {
    assertId(id);
    const c = this.#collections(workerType);
    return withRetry(
      () =>
        this.#store.transaction(async (tx) => {
          let n = 0;
          for (const collection of [c.identity, c.desired, c.observed]) {
            if ((await tx.get(collection, id)) !== undefined) {
              await tx.delete(collection, id);
              n++;
            }
          }
          return n;
        }),
      { retries: INTERNAL_RETRIES, baseDelayMs: 1 },
    );
  }

  /**
   * Eager migration: rewrites every stored document of the worker type (or of every versioned
   * worker type) that is older than the current schema version, in atomic batches. Each
   * rewritten document gets a new `_sync_id`, so replicas receive the new shape. Resumable: a
   * crash loses at most the batch in flight (nothing of it is written) and a second run skips
   * what is done, since each document carries its `_schema`. A concurrent write to a document
   * of the batch makes the batch read again and retry.
   *
   * @throws `VALIDATION` (a migration function failed on a document: that batch is not written).
   */
  async migrate(workerType?: string, options: MigrateOptions = {}): Promise<MigrateResult> {
    const batchSize = options.batchSize ?? 100;
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new ValidationError('batchSize must be a positive integer');
    const types = workerType !== undefined ? [workerType] : Object.keys(this.#registry.getSchemaVersions());
    let migrated = 0;
    let batches = 0;
    for (const type of types) {
      const collections = this.#collections(type);
      const schema = this.#registry.getWorkerSchema(type);
      if (schema.version === 1) continue;
      for (const part of PARTS) {
        const collection = collections[part];
        const sys = this.#store[kSystem];
        let after: string | undefined;
        for (;;) {
          const page = await this.#store.find(collection, {
            ...(after === undefined ? {} : { filter: { id: { $gt: after } } }),
            sort: [{ field: 'id' }],
            limit: batchSize,
          });
          if (page.length === 0) break;
          const old = page.filter((d) => schemaVersionOf(d) < schema.version);
          if (old.length > 0) {
            try {
              await sys.commit(
                old.map((d) => ({
                  collection,
                  id: d.id,
                  kind: 'put' as const,
                  body: sys.body(collection, convertDoc(type, schema, part, userFields(d), schemaVersionOf(d), schema.version)),
                  expect: { kind: 'version' as const, version: d._version },
                })),
              );
            } catch (e) {
              if (!isCseError(e, 'CONFLICT')) throw e;
              continue; // a concurrent write: read this page again
            }
            migrated += old.length;
            batches++;
            options.onBatch?.({ workerType: type, role: part, migrated });
          }
          after = (page[page.length - 1] as Doc).id;
        }
      }
    }
    return { migrated, batches };
  }
}
