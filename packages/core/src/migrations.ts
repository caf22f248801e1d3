/**
 * Schema versions of worker types: the migration steps a worker type declares and the pure
 * conversion of one document between versions.
 *
 * A worker type at version `n` declares `n - 1` steps; step `i` (0-based) turns a document of
 * version `i + 1` into version `i + 2`. Each step has an `up` function per role (a role left out
 * is unchanged by the step) and, where the step loses nothing, a `down` with the same shape.
 * A document carries the version it was written with in the system field `_schema` (a document
 * without it is version 1, as written before versions existed).
 */
import type { JsonObject } from './adapter.js';
import { CseError, ErrorCode, ValidationError, describeValue } from './errors.js';

/** The system field holding a document's schema version (absent means version 1). */
export const SCHEMA_FIELD = '_schema';

type RoleName = 'identity' | 'desired' | 'observed';

/**
 * One document's user fields in, the same document in the next (or previous) version out. Must
 * be pure and total on valid documents of its version: it gets a private copy (mutating it is
 * harmless) without `_schema`, and must keep `id`.
 */
export type MigrateFn = (doc: JsonObject) => JsonObject;

/** Per role, how a step changes a document; a role left out is unchanged by the step. */
export interface RoleMigrations {
  readonly identity?: MigrateFn;
  readonly desired?: MigrateFn;
  readonly observed?: MigrateFn;
}

/** One version step. */
export interface MigrationStep {
  /** Version `v` → `v + 1`. */
  readonly up: RoleMigrations;
  /** Version `v + 1` → `v`, declared only where it is lossless (`down(up(d))` equals `d`). */
  readonly down?: RoleMigrations;
}

/** What `registry.registerWorkerType(type, { version, migrations })` takes. */
export interface WorkerTypeSchema {
  /** The current schema version, an integer ≥ 1. Default 1. */
  readonly version?: number;
  /** Exactly `version - 1` steps: `migrations[0]` is 1 → 2, `migrations[1]` is 2 → 3, ... */
  readonly migrations?: readonly MigrationStep[];
}

/** A validated, frozen `WorkerTypeSchema`. */
export interface WorkerSchema {
  readonly version: number;
  readonly migrations: readonly MigrationStep[];
}

const ROLE_NAMES: readonly RoleName[] = ['identity', 'desired', 'observed'];

function checkRoles(fns: unknown, where: string): RoleMigrations {
  if (fns === null || typeof fns !== 'object' || Array.isArray(fns)) throw new ValidationError(`${where} must be an object of functions per role`);
  for (const key of Object.keys(fns)) {
    if (!(ROLE_NAMES as readonly string[]).includes(key)) {
      throw new ValidationError(`${where} has ${JSON.stringify(key)}: only "identity", "desired" and "observed" are roles`);
    }
    if (typeof (fns as Record<string, unknown>)[key] !== 'function') throw new ValidationError(`${where}.${key} must be a function`);
  }
  return Object.freeze({ ...(fns as RoleMigrations) });
}

/** Validates a worker type's schema declaration. @throws `VALIDATION`. */
export function workerSchema(workerType: string, given: WorkerTypeSchema = {}): WorkerSchema {
  if (given === null || typeof given !== 'object') throw new ValidationError(`the schema of worker type "${workerType}" must be an object`);
  const version = given.version ?? 1;
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) {
    throw new ValidationError(`schema version of worker type "${workerType}" must be an integer ≥ 1, got ${describeValue(version)}`);
  }
  const steps = given.migrations ?? [];
  if (!Array.isArray(steps) || steps.length !== version - 1) {
    throw new ValidationError(
      `worker type "${workerType}" at version ${version} needs exactly ${version - 1} migration step(s) (1 → 2, ...), got ${Array.isArray(steps) ? steps.length : describeValue(steps)}`,
    );
  }
  const migrations = steps.map((step: unknown, i) => {
    const where = `migration ${i + 1} → ${i + 2} of worker type "${workerType}"`;
    if (step === null || typeof step !== 'object') throw new ValidationError(`${where} must be an object { up, down? }`);
    const s = step as MigrationStep;
    const up = checkRoles(s.up, `${where}: up`);
    const down = s.down === undefined ? undefined : checkRoles(s.down, `${where}: down`);
    return Object.freeze(down === undefined ? { up } : { up, down });
  });
  return Object.freeze({ version, migrations: Object.freeze(migrations) });
}

/** The schema version a stored document (or its user fields) was written with: `_schema`, or 1. */
export function schemaVersionOf(doc: Readonly<Record<string, unknown>>): number {
  const v = doc[SCHEMA_FIELD];
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 1 ? v : 1;
}

/** Throws `VALIDATION` unless `v` is a schema version (an integer ≥ 1). */
export function assertSchemaVersion(v: unknown, what = 'schema version'): asserts v is number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new ValidationError(`${what} must be an integer ≥ 1, got ${describeValue(v)}`);
}

/**
 * True when a document of version `from` can be shown at version `to`: upwards to the current
 * version always, downwards only through steps with a `down` for `role` (or steps that leave the
 * role unchanged).
 */
export function canConvert(schema: WorkerSchema, role: RoleName, from: number, to: number): boolean {
  if (from > schema.version || to > schema.version || from < 1 || to < 1) return false;
  for (let v = from; v > to; v--) {
    const step = schema.migrations[v - 2] as MigrationStep;
    if (step.up[role] !== undefined && step.down?.[role] === undefined) return false;
  }
  return true;
}

/** True when every role converts between `from` and `to` (what serving a peer at `to` needs). */
export function canServe(schema: WorkerSchema, from: number, to: number): boolean {
  return ROLE_NAMES.every((role) => canConvert(schema, role, from, to));
}

/** An `UPDATE_REQUIRED` error: this side cannot speak `wanted` for the worker type. */
export function updateRequired(workerType: string, wanted: number, current: number): CseError {
  return new CseError(
    ErrorCode.UPDATE_REQUIRED,
    `worker type "${workerType}" is at schema version ${current} here and cannot be converted to or from version ${wanted}: update the older side`,
    { details: { workerType, version: wanted, current } },
  );
}

function apply(fn: MigrateFn, doc: JsonObject, where: string): JsonObject {
  let out: unknown;
  try {
    out = fn(structuredClone(doc));
  } catch (e) {
    throw new ValidationError(`${where} failed on document ${JSON.stringify(doc.id)}: ${e instanceof Error ? e.message : String(e)}`, {
      cause: e,
      details: { id: doc.id },
    });
  }
  if (out === null || typeof out !== 'object' || Array.isArray(out)) {
    throw new ValidationError(`${where} returned ${describeValue(out)} for document ${JSON.stringify(doc.id)}, not an object`);
  }
  const result = { ...(out as JsonObject) };
  delete result[SCHEMA_FIELD];
  result.id = doc.id as string; // the id is the worker's: a migration never moves a document
  return result;
}

/**
 * Converts a document's user fields from version `from` to `to` (up or down) and stamps `_schema`
 * with `to` (version 1 is left unstamped when converted down to it, as a version-1 peer wrote it).
 * The input is not changed. A document already at `to` is returned as a copy.
 *
 * @throws `UPDATE_REQUIRED` when a version is beyond the schema or a step down is not lossless;
 *   `VALIDATION` when a migration function throws or returns a non-object.
 */
export function convertDoc(workerType: string, schema: WorkerSchema, role: RoleName, doc: JsonObject, from: number, to: number): JsonObject {
  if (!canConvert(schema, role, from, to)) throw updateRequired(workerType, Math.max(from, to) > schema.version ? Math.max(from, to) : to, schema.version);
  let cur: JsonObject = { ...doc };
  delete cur[SCHEMA_FIELD];
  for (let v = from; v < to; v++) {
    const fn = (schema.migrations[v - 1] as MigrationStep).up[role];
    if (fn !== undefined) cur = apply(fn, cur, `migration ${v} → ${v + 1} (up, ${role}) of "${workerType}"`);
  }
  for (let v = from; v > to; v--) {
    const step = schema.migrations[v - 2] as MigrationStep;
    const fn = step.up[role] === undefined ? undefined : step.down?.[role];
    if (fn !== undefined) cur = apply(fn, cur, `migration ${v} → ${v - 1} (down, ${role}) of "${workerType}"`);
  }
  if (to > 1) cur[SCHEMA_FIELD] = to;
  return cur;
}
