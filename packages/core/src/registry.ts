/**
 * Registry: which collections hold the Identity, Desired and Observed documents of each worker
 * type, their schema versions, and the features this side supports (for capability
 * negotiation between Edge and Frontend). In memory: the schema is static and rebuilt at start.
 */
import { ConflictError, NotFoundError, ValidationError } from './errors.js';
import { COLLECTION_NAME } from './json.js';
import type { WorkerSchema, WorkerTypeSchema } from './migrations.js';
import { workerSchema } from './migrations.js';

export const Role = { Identity: 'identity', Desired: 'desired', Observed: 'observed' } as const;
export type Role = (typeof Role)[keyof typeof Role];
const ROLES: readonly string[] = Object.values(Role);

/** The two logical tiers. The relay between them is a blind proxy and never a tier. */
export const Tier = { Edge: 'edge', Frontend: 'frontend' } as const;
export type Tier = (typeof Tier)[keyof typeof Tier];

/** Throws `VALIDATION` unless `tier` is `edge` or `frontend`. */
export function assertTier(tier: unknown): asserts tier is Tier {
  if (tier === Tier.Edge || tier === Tier.Frontend) return;
  if (typeof tier === 'string' && tier.toLowerCase() === 'relay') {
    throw new ValidationError(
      'there is no relay tier: the relay is a transparent, end-to-end encrypted proxy that sees no data and keeps no sync state; use Tier.Edge or Tier.Frontend',
    );
  }
  throw new ValidationError(`unknown tier ${JSON.stringify(tier)}: use Tier.Edge ("edge") or Tier.Frontend ("frontend")`);
}

export interface CollectionMetadata {
  /** Collection name, e.g. `container_identity` (convention `{workerType}_{role}`, not required). */
  readonly name: string;
  /** Worker type, e.g. `container`. */
  readonly workerType: string;
  readonly role: Role;
  /** Free-form schema version, e.g. `v1`. */
  readonly schemaVersion?: string;
  /** Metadata fields the collection carries. */
  readonly cseFields?: readonly string[];
  /** Fields with indexes (descriptive). */
  readonly indexedFields?: readonly string[];
  /** Sibling collections. */
  readonly relatedTo?: readonly string[];
}

/** The three collections of one worker type. */
export interface TriangularCollections {
  readonly identity: string;
  readonly desired: string;
  readonly observed: string;
}

const UNVERSIONED: WorkerSchema = Object.freeze({ version: 1, migrations: Object.freeze([]) });

const WORKER_TYPE = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

function copy(m: CollectionMetadata): CollectionMetadata {
  return Object.freeze({
    ...m,
    ...(m.cseFields ? { cseFields: Object.freeze([...m.cseFields]) } : {}),
    ...(m.indexedFields ? { indexedFields: Object.freeze([...m.indexedFields]) } : {}),
    ...(m.relatedTo ? { relatedTo: Object.freeze([...m.relatedTo]) } : {}),
  });
}

export class Registry {
  readonly #byName = new Map<string, CollectionMetadata>();
  /** workerType → role → name. */
  readonly #byWorker = new Map<string, Map<Role, string>>();
  readonly #features = new Map<string, boolean>();
  /** workerType → its schema (only types registered with one; others are version 1). */
  readonly #schemas = new Map<string, WorkerSchema>();

  /**
   * Registers a collection.
   *
   * @throws `VALIDATION` (bad name, worker type or role), `CONFLICT` (name already registered,
   *   or the worker type already has a collection for this role).
   */
  register(metadata: CollectionMetadata): void {
    if (metadata === null || typeof metadata !== 'object') throw new ValidationError('metadata must be an object');
    const { name, workerType, role } = metadata;
    if (typeof name !== 'string' || !COLLECTION_NAME.test(name)) {
      throw new ValidationError(`invalid collection name ${JSON.stringify(name)}: a letter, then letters, digits, "_" or "-" (1-64)`);
    }
    if (typeof workerType !== 'string' || !WORKER_TYPE.test(workerType)) {
      throw new ValidationError(`invalid worker type ${JSON.stringify(workerType)} for collection "${name}"`);
    }
    if (!ROLES.includes(role)) {
      throw new ValidationError(`invalid role ${JSON.stringify(role)} for collection "${name}" (must be "identity", "desired" or "observed")`);
    }
    for (const list of ['cseFields', 'indexedFields', 'relatedTo'] as const) {
      const v = metadata[list];
      if (v !== undefined && (!Array.isArray(v) || v.some((s) => typeof s !== 'string'))) {
        throw new ValidationError(`${list} of "${name}" must be an array of strings`);
      }
    }
    if (metadata.schemaVersion !== undefined && (typeof metadata.schemaVersion !== 'string' || metadata.schemaVersion === '')) {
      throw new ValidationError(`schemaVersion of "${name}" must be a non-empty string`);
    }
    if (this.#byName.has(name)) throw new ConflictError(`collection "${name}" is already registered`);
    const roles = this.#byWorker.get(workerType) ?? new Map<Role, string>();
    const taken = roles.get(role);
    if (taken !== undefined) {
      throw new ConflictError(`worker type "${workerType}" already has its ${role} collection ("${taken}")`);
    }
    roles.set(role, name);
    this.#byWorker.set(workerType, roles);
    this.#byName.set(name, copy(metadata));
  }

  /** The seed's signature: `registerCollection("container_identity", "container", "identity")`. */
  registerCollection(name: string, workerType: string, role: Role): void {
    this.register({ name, workerType, role });
  }

  /**
   * Registers the three collections `{workerType}_identity`, `_desired`, `_observed`. With a
   * `WorkerTypeSchema` (`{ version, migrations }`) the worker type is versioned: its documents
   * carry `_schema`, older ones are upgraded through `migrations` (see `migrations.ts`). A string
   * is the free-form collection `schemaVersion` of before, and the type stays at version 1.
   *
   * @throws `VALIDATION` (also for a malformed schema, checked before anything is registered), `CONFLICT`.
   */
  registerWorkerType(workerType: string, schema?: string | WorkerTypeSchema): TriangularCollections {
    const versioned = schema !== undefined && typeof schema === 'object' ? workerSchema(workerType, schema) : undefined;
    const schemaVersion = versioned !== undefined ? `v${versioned.version}` : schema;
    if (typeof schemaVersion !== 'string' && schemaVersion !== undefined) throw new ValidationError('schema must be a string or { version, migrations }');
    for (const role of ROLES as Role[]) {
      this.register({ name: `${workerType}_${role}`, workerType, role, ...(schemaVersion ? { schemaVersion } : {}) });
    }
    if (versioned !== undefined) this.#schemas.set(workerType, versioned);
    return this.getTriangularCollections(workerType);
  }

  /** The worker type's schema: its current version and migration steps (`{ version: 1, migrations: [] }` when unversioned). */
  getWorkerSchema(workerType: string): WorkerSchema {
    return this.#schemas.get(workerType) ?? UNVERSIONED;
  }

  /** The current schema version of the worker type (1 when registered without one). */
  getSchemaVersion(workerType: string): number {
    return this.getWorkerSchema(workerType).version;
  }

  /** Worker type → current schema version, for every worker type with collections (what `hello` carries). */
  getSchemaVersions(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const t of [...this.#byWorker.keys()].sort()) out[t] = this.getSchemaVersion(t);
    return out;
  }

  /** A frozen copy of one collection's metadata. @throws `NOT_FOUND`. */
  getMetadata(name: string): CollectionMetadata {
    const m = this.#byName.get(name);
    if (m === undefined) throw new NotFoundError(`collection "${name}" is not registered`);
    return copy(m);
  }

  isRegistered(name: string): boolean {
    return this.#byName.has(name);
  }

  /** Copies of all metadata, sorted by name. */
  list(): CollectionMetadata[] {
    return [...this.#byName.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map(copy);
  }

  /** Names of all registered collections, sorted. */
  collectionNames(): string[] {
    return [...this.#byName.keys()].sort();
  }

  /** The worker type's three collections. @throws `NOT_FOUND` naming the first missing role. */
  getTriangularCollections(workerType: string): TriangularCollections {
    const roles = this.#byWorker.get(workerType);
    const get = (role: Role): string => {
      const name = roles?.get(role);
      if (name === undefined) throw new NotFoundError(`${role} collection not found for worker type "${workerType}"`);
      return name;
    };
    return { identity: get(Role.Identity), desired: get(Role.Desired), observed: get(Role.Observed) };
  }

  /** Sets the schema version of the worker type's collection with `role`. @throws `VALIDATION`, `NOT_FOUND`. */
  registerVersion(workerType: string, role: Role, version: string): void {
    if (!ROLES.includes(role)) throw new ValidationError(`invalid role ${JSON.stringify(role)}`);
    if (typeof version !== 'string' || version === '') throw new ValidationError(`version cannot be empty for ${workerType}/${role}`);
    const name = this.#byWorker.get(workerType)?.get(role);
    if (name === undefined) throw new NotFoundError(`no ${role} collection registered for worker type "${workerType}"`);
    const m = this.#byName.get(name) as CollectionMetadata;
    this.#byName.set(name, copy({ ...m, schemaVersion: version }));
  }

  /** The collection's schema version, or `undefined`. */
  getVersion(name: string): string | undefined {
    return this.#byName.get(name)?.schemaVersion;
  }

  /** name → schema version, for collections that have one. */
  getAllVersions(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const m of this.#byName.values()) if (m.schemaVersion !== undefined) out[m.name] = m.schemaVersion;
    return out;
  }

  /** Declares whether a feature (e.g. `delta_sync`) is supported. @throws `VALIDATION` on an empty name. */
  registerFeature(name: string, supported: boolean): void {
    if (typeof name !== 'string' || name === '') throw new ValidationError('feature name cannot be empty');
    if (typeof supported !== 'boolean') throw new ValidationError('supported must be true or false');
    this.#features.set(name, supported);
  }

  hasFeature(name: string): boolean {
    return this.#features.get(name) === true;
  }

  /** A copy of all declared features. */
  getFeatures(): Record<string, boolean> {
    return Object.fromEntries(this.#features);
  }
}
