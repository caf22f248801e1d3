/**
 * The replica's own bookkeeping, kept in its store so it survives a reload: the Edge epoch, this
 * replica's client id, a cursor per followed collection. Every change of local state runs in one
 * queue (`serial`), so pages, results and writes never interleave.
 */
import type { JsonObject, Registry, ReplicaWrite, Store } from '@cse/core';
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

export class ReplicaState {
  readonly replica: Replica;
  readonly registry: Registry;
  readonly #clock: () => Date;
  collections: string[];
  epoch: string | null = null;
  client = '';
  cursors: Record<string, number> = {};
  /**
   * Per worker type, the schema version the replica's documents and pending writes are in (S12),
   * as recorded in its state; undefined for a replica written before versions were recorded.
   */
  schemas: Record<string, number> | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(store: Store, registry: Registry, clock: () => Date, collections: string[]) {
    this.replica = new Replica(store);
    this.registry = registry;
    this.#clock = clock;
    this.collections = collections;
  }

  now(): string {
    return this.#clock().toISOString();
  }

  /** Runs `fn` after every change of local state queued before it. */
  serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Resolves once everything queued so far has run. */
  idle(): Promise<void> {
    return this.#queue.then(() => undefined);
  }

  /** Reads the epoch, client id and cursors (a new replica gets its client id and a state record). */
  async load(): Promise<void> {
    const [state] = await this.replica.getMany([{ collection: REPLICA_COLLECTION, id: STATE_ID }]);
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
