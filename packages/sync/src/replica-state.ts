/**
 * The replica's own bookkeeping, kept in its store so it survives a reload: the Edge epoch, this
 * replica's client id, a cursor per followed collection. Every change of local state runs in one
 * queue (`serial`), so pages, results and writes never interleave.
 *
 * Pipelining: a page's task may let the next task start once its commit is issued
 * (`releaseQueue`), so the next page is decoded, checked and handed to the store while the
 * previous one commits (IndexedDB runs the two transactions in order; the JavaScript of one
 * overlaps the storage work of the other). Safety does not rest on that order: each page's commit
 * expects the state document at the version the page before it leaves, so a page whose
 * predecessor failed fails too, and the cursors never run ahead of the documents (S1, S2).
 * Everything else that reads or writes the replica waits for the pages in flight first.
 */
import type { DocKey, JsonObject, Registry, ReplicaWrite, Store, StoredRecord } from '@cse/core';
import { Replica } from '@cse/core';

export const REPLICA_COLLECTION = '_cse_replica';
export const OUTBOX_COLLECTION = '_cse_outbox';
export const SHADOW_COLLECTION = '_cse_shadow';
const STATE_ID = 'state';

export function docKey(collection: string, id: string): string {
  return `${collection}:${id}`;
}

/** The user's fields of a document from the Edge: every `_` key is metadata. */
export function userPart(doc: JsonObject, extra?: Readonly<Record<string, unknown>>): JsonObject {
  const out: JsonObject = {};
  for (const k in doc) {
    // Metadata is dropped; so is any "_" key, "__proto__" included, so a plain assignment is safe.
    // `_schema` (the version the document is in, S12) is part of its content and kept.
    if ((k.charCodeAt(0) === 95 /* _ */ && k !== '_schema') || !Object.hasOwn(doc, k)) continue;
    out[k] = doc[k] as JsonObject[string];
  }
  if (extra !== undefined) for (const k in extra) out[k] = extra[k] as JsonObject[string];
  return out;
}

export function randomId(): string {
  return globalThis.crypto.randomUUID();
}

/** The local store, as the sync layer uses it: every access waits for the page commits in flight. */
class PipelinedReplica extends Replica {
  /** Settles once every pipelined commit issued so far has settled. */
  #inflight: Promise<unknown> = Promise.resolve();
  readonly #seen: (records: readonly StoredRecord[]) => void;

  constructor(store: Store, seen: (records: readonly StoredRecord[]) => void) {
    super(store);
    this.#seen = seen;
  }

  override async commit(writes: readonly ReplicaWrite[]): Promise<readonly StoredRecord[]> {
    await this.#inflight;
    const records = await super.commit(writes);
    this.#seen(records);
    return records;
  }

  override async getMany(keys: readonly DocKey[]): Promise<(StoredRecord | undefined)[]> {
    await this.#inflight;
    return super.getMany(keys);
  }

  override async scan(collection: string): Promise<StoredRecord[]> {
    await this.#inflight;
    return super.scan(collection);
  }

  /** A page's commit, issued without waiting for the pipelined commits before it. */
  commitPipelined(writes: readonly ReplicaWrite[]): Promise<readonly StoredRecord[]> {
    const done = super.commit(writes).then((records) => {
      this.#seen(records);
      return records;
    });
    // Settles with nothing: a Promise.all of the one before would hold every page's records ever
    // committed, one array inside the next, for the life of the replica.
    this.#inflight = Promise.all([this.#inflight, done.catch(() => undefined)]).then(() => undefined);
    return done;
  }
}

export class ReplicaState {
  readonly replica: PipelinedReplica;
  readonly registry: Registry;
  readonly #clock: () => Date;
  collections: string[];
  epoch: string | null = null;
  client = '';
  /** The committed cursors (what a hello sends). */
  cursors: Record<string, number> = {};
  /**
   * Per worker type, the schema version the replica's documents and pending writes are in (S12),
   * as recorded in its state; undefined for a replica written before versions were recorded.
   */
  schemas: Record<string, number> | undefined;
  /** The local `_version` of the state document, as last committed. */
  #stateVersion = 0;
  /** Where the page commits in flight leave the cursors and the state document (none in flight: undefined). */
  #issued: { cursors: Record<string, number>; version: number } | undefined;
  #inflightPages = 0;
  /** When the next task may start: the previous one finished or released the queue. */
  #gate: Promise<void> = Promise.resolve();
  /** When every task queued so far has finished. */
  #all: Promise<void> = Promise.resolve();
  #release: (() => void) | undefined;

  constructor(store: Store, registry: Registry, clock: () => Date, collections: string[]) {
    this.replica = new PipelinedReplica(store, (records) => {
      for (const r of records) if (r.collection === REPLICA_COLLECTION && r.id === STATE_ID) this.#stateVersion = r.version;
    });
    this.registry = registry;
    this.#clock = clock;
    this.collections = collections;
  }

  now(): string {
    return this.#clock().toISOString();
  }

  /** Runs `fn` after every change of local state queued before it (or once that one called `releaseQueue`). */
  serial<T>(fn: () => Promise<T>): Promise<T> {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const run = this.#gate.then(() => {
      this.#release = release;
      return fn();
    });
    const finished = run.then(
      () => undefined,
      () => undefined,
    );
    void finished.then(release);
    this.#gate = released;
    this.#all = Promise.all([this.#all, finished]).then(() => undefined);
    return run;
  }

  /** Lets the next queued task start while the running one goes on (a page whose commit is issued). */
  releaseQueue(): void {
    const release = this.#release;
    this.#release = undefined;
    release?.();
  }

  /** Resolves once everything queued so far has run. */
  idle(): Promise<void> {
    return this.#all;
  }

  /** Where the next page starts: the cursors and state document version the pages in flight leave (or the committed ones). */
  pipelineHead(): { cursors: Record<string, number>; version: number } {
    return this.#issued ?? { cursors: this.cursors, version: this.#stateVersion };
  }

  /**
   * Issues a page's commit (`writes` hold the state document expected at `version`, moving the
   * cursors to `cursors`) without waiting for the pages before it; resolves once it committed.
   * A failure forgets every page in flight: the next starts from what is committed.
   */
  async commitPage(writes: readonly ReplicaWrite[], cursors: Record<string, number>, version: number): Promise<void> {
    this.#issued = { cursors, version: version + 1 };
    this.#inflightPages++;
    try {
      await this.replica.commitPipelined(writes);
      // Commits settle in the order they were issued: these are the newest committed cursors.
      this.cursors = cursors;
    } catch (e) {
      this.#issued = undefined;
      // A state document written elsewhere would fail every page after: read its version again.
      const [state] = await this.replica.getMany([{ collection: REPLICA_COLLECTION, id: STATE_ID }]).catch(() => [undefined]);
      if (state !== undefined) this.#stateVersion = state.version;
      throw e;
    } finally {
      if (--this.#inflightPages === 0) this.#issued = undefined;
    }
  }

  /** Reads the epoch, client id and cursors (a new replica gets its client id and a state record). */
  async load(): Promise<void> {
    const [state] = await this.replica.getMany([{ collection: REPLICA_COLLECTION, id: STATE_ID }]);
    if (state !== undefined) this.#stateVersion = state.version;
    const doc = state && !state.deleted ? state.doc : undefined;
    this.epoch = typeof doc?.epoch === 'string' ? doc.epoch : null;
    this.client = typeof doc?.client === 'string' ? doc.client : randomId();
    this.cursors = { ...((doc?.cursors as Record<string, number> | undefined) ?? {}) };
    const schemas = doc?.schemas;
    this.schemas = schemas !== null && typeof schemas === 'object' && !Array.isArray(schemas) ? { ...(schemas as Record<string, number>) } : undefined;
    if (doc === undefined) await this.replica.commit([this.stateWrite(null, {})]);
  }

  stateWrite(epoch: string | null, cursors: Record<string, number>): ReplicaWrite {
    return { collection: REPLICA_COLLECTION, id: STATE_ID, kind: 'put', body: { epoch, client: this.client, cursors, ...(this.schemas === undefined ? {} : { schemas: this.schemas }) } };
  }

  /** The lowest cursor of the followed collections (0 when none). */
  lowestCursor(): number {
    const cursor = Math.min(...this.collections.map((c) => this.cursors[c] ?? 0));
    return Number.isFinite(cursor) ? cursor : 0;
  }
}
