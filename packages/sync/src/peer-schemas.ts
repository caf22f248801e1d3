/**
 * The schema versions one Frontend speaks, as its Edge session sees them (S12). From the hello's
 * `schemas` (absent: every worker type at version 1, a peer from before versions), per followed
 * worker type: served as stored, served converted down to the Frontend's version (a lossless
 * `down` path exists), or `UPDATE_REQUIRED` (the Frontend is newer, or the path down loses
 * something): that type is left out of the session and the others go on.
 */
import type { JsonObject, Registry, WorkerSchema } from '@cse/core';
import { canServe, convertDoc, schemaVersionOf, updateRequired, userFields } from '@cse/core';

type Role = 'identity' | 'desired' | 'observed';

export class PeerSchemas {
  readonly #registry: Registry;
  /** workerType → the Frontend's version, for followed versioned types (served converted where needed). */
  readonly #convert = new Map<string, { schema: WorkerSchema; version: number }>();
  /** Followed worker types this Edge cannot serve in the Frontend's version. */
  readonly updateRequired: readonly string[];
  /** True when the hello carried `schemas` (the Frontend understands `updateRequired`). */
  readonly announced: boolean;
  /** workerType → the Frontend's version (1 where it did not say). */
  readonly #versions: Readonly<Record<string, number>>;

  constructor(registry: Registry, collections: readonly string[], schemas: Readonly<Record<string, number>> | undefined) {
    this.#registry = registry;
    this.announced = schemas !== undefined;
    this.#versions = schemas ?? {};
    const blocked: string[] = [];
    for (const type of new Set(collections.map((c) => registry.getMetadata(c).workerType))) {
      const schema = registry.getWorkerSchema(type);
      const theirs = this.versionOf(type);
      if (theirs === schema.version) {
        // Documents not migrated yet are upgraded lazily as they are sent.
        if (schema.version > 1) this.#convert.set(type, { schema, version: theirs });
      } else if (theirs < schema.version && canServe(schema, schema.version, theirs)) this.#convert.set(type, { schema, version: theirs });
      else blocked.push(type);
    }
    this.updateRequired = Object.freeze(blocked.sort());
  }

  /** The version the Frontend speaks for `workerType`. */
  versionOf(workerType: string): number {
    return this.#versions[workerType] ?? 1;
  }

  /** True when the collection's worker type is served to this Frontend. */
  serves(collection: string): boolean {
    return !this.updateRequired.includes(this.#registry.getMetadata(collection).workerType);
  }

  /**
   * The Edge's document as this Frontend reads it: converted from the version it was stored at
   * to the Frontend's (metadata kept). Tombstones and documents already in that version are
   * returned as they are.
   *
   * A document stored in a version this Edge's registry does not know (a newer release wrote the
   * store: `cse-edge migrate` or a newer Edge process on the same file while this one still
   * serves) is never sent as it is, in a shape the Frontend does not speak:
   * @throws `UPDATE_REQUIRED` naming the worker type (this Edge is the older side); the session
   * ends and the Frontend retries, its cursor kept, until an Edge of that release serves it.
   */
  toPeer(collection: string, doc: JsonObject): JsonObject {
    if (doc._deleted === true || (this.#convert.size === 0 && doc._schema === undefined)) return doc;
    const { workerType, role } = this.#registry.getMetadata(collection);
    const at = schemaVersionOf(doc);
    const c = this.#convert.get(workerType);
    if (c === undefined) {
      // Served as stored: the type is at version 1 in this registry (as the Frontend speaks it).
      const here = this.#registry.getSchemaVersion(workerType);
      if (at > here) throw updateRequired(workerType, at, here);
      return doc;
    }
    if (at === c.version) return doc;
    const meta: JsonObject = {};
    for (const [k, v] of Object.entries(doc)) if (k.startsWith('_') && k !== '_schema' && v !== undefined) meta[k] = v;
    return { ...convertDoc(workerType, c.schema, role as Role, userFields(doc), at, c.version), ...meta };
  }
}
