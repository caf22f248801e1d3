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
}

/** One consistent read of a worker's three documents (`undefined` where one is missing). */
export interface Snapshot {
  readonly identity: Doc | undefined;
  readonly desired: Doc | undefined;
  readonly observed: Doc | undefined;
}

type Part = 'identity' | 'desired' | 'observed';

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
    const input = this.#input(id, doc, 'identity');
    const { identity } = this.#collections(workerType);
    for (let attempt = 0; ; attempt++) {
      try {
        return { doc: await this.#store.insert(identity, input), changed: true };
      } catch (e) {
        if (!isCseError(e, 'CONFLICT') || attempt >= INTERNAL_RETRIES) throw e;
        const current = (e as ConflictError).current as Doc | undefined;
        if (current === undefined) continue; // deleted meanwhile: try again
        if (this.#same(identity, current, input)) return { doc: current, changed: false };
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
  saveDesired(workerType: string, id: string, doc: Readonly<Record<string, unknown>>, options: SaveOptions = {}): Promise<SaveResult> {
    if (options.receipt !== undefined) return this.#saveWithReceipt(workerType, id, doc, options);
    return this.#save(workerType, id, doc, 'desired', options);
  }

  async #saveWithReceipt(workerType: string, id: string, doc: unknown, options: SaveOptions): Promise<SaveResult> {
    const input = this.#input(id, doc, 'desired');
    const collection = this.#registry.getTriangularCollections(workerType).desired;
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
  saveObserved(workerType: string, id: string, doc: Readonly<Record<string, unknown>>, options: WriteOptions = {}): Promise<SaveResult> {
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

  async #save(workerType: string, id: string, doc: unknown, part: 'desired' | 'observed', options: WriteOptions): Promise<SaveResult> {
    const input = this.#input(id, doc, part);
    const collection = this.#collections(workerType)[part];
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
    return this.#store.get(this.#collections(workerType).identity, id);
  }

  /** The worker's desired state, or `undefined`. */
  async loadDesired(workerType: string, id: string): Promise<Doc | undefined> {
    return this.#store.get(this.#collections(workerType).desired, id);
  }

  /** The worker's observed state, or `undefined`. */
  async loadObserved(workerType: string, id: string): Promise<Doc | undefined> {
    return this.#store.get(this.#collections(workerType).observed, id);
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
    return { identity: live(records[0]), desired: live(records[1]), observed: live(records[2]) };
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
}
