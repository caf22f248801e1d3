/**
 * Grants: what one paired Frontend may read and write, fixed by the Edge and enforced by the Edge
 * alone (DESIGN S9). A grant names the worker types (or single collections) and the roles it may
 * read, the Desired collections it may write, an optional expiry and a label; `admin` adds the
 * right to pair and revoke other Frontends.
 *
 * Writing implies reading: a write names the Edge version it is based on, which a Frontend that
 * cannot read the document cannot know, so `write` is always checked together with `read`.
 */
import type { Registry, Role } from '@cse/core';
import { ValidationError } from '@cse/core';

/** Every worker type, present and future. */
export const ALL = '*' as const;

export interface GrantRead {
  /** Worker types whose collections may be read (with `roles`), or `'*'` for all. */
  readonly workerTypes: typeof ALL | readonly string[];
  /** Single collections that may be read too, whatever their worker type. Default none. */
  readonly collections?: readonly string[];
  /** The roles readable in `workerTypes`. */
  readonly roles: readonly Role[];
}

export interface GrantWrite {
  /** Worker types whose Desired collection may be written, or `'*'` for all. */
  readonly workerTypes: typeof ALL | readonly string[];
  /** Single Desired collections that may be written too. Default none. */
  readonly collections?: readonly string[];
}

export interface Grant {
  readonly read: GrantRead;
  readonly write: GrantWrite;
  /** May pair and revoke other Frontends. */
  readonly admin: boolean;
  /** Epoch milliseconds after which the grant allows nothing (the Frontend must be granted again). */
  readonly expiresAt?: number;
  /** A name for people ("Line A tablet"). */
  readonly label?: string;
  /** The preset it was made from, if any (informative only: the fields above decide). */
  readonly preset?: GrantPreset;
}

export type GrantPreset = 'viewer' | 'operator' | 'admin';
export const GRANT_PRESETS: readonly GrantPreset[] = ['viewer', 'operator', 'admin'];

const ALL_ROLES: readonly Role[] = ['identity', 'desired', 'observed'];

export interface PresetOptions {
  /** For `operator` and `admin`: the worker types whose Desired may be written. Default all. */
  readonly workerTypes?: readonly string[];
  readonly expiresAt?: number;
  readonly label?: string;
}

/**
 * A named grant: `viewer` reads everything and writes nothing; `operator` reads everything and
 * writes the Desired of `workerTypes` (default all); `admin` is an operator that may also pair and
 * revoke other Frontends.
 * @throws `VALIDATION` for an unknown preset.
 */
export function grantPreset(preset: string, options: PresetOptions = {}): Grant {
  if (!(GRANT_PRESETS as readonly string[]).includes(preset)) throw new ValidationError(`unknown grant ${JSON.stringify(preset)}: use viewer, operator or admin`);
  const writeTypes = preset === 'viewer' ? [] : (options.workerTypes ?? ALL);
  return normalizeGrant({
    read: { workerTypes: ALL, roles: ALL_ROLES },
    write: { workerTypes: writeTypes },
    admin: preset === 'admin',
    preset: preset as GrantPreset,
    ...(options.expiresAt === undefined ? {} : { expiresAt: options.expiresAt }),
    ...(options.label === undefined ? {} : { label: options.label }),
  });
}

/** What a Frontend paired before grants existed had: everything but administration. */
export const LEGACY_GRANT: Grant = Object.freeze({
  read: { workerTypes: ALL, roles: ALL_ROLES },
  write: { workerTypes: ALL },
  admin: false,
});

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

function names(v: unknown, what: string, allowAll: boolean): typeof ALL | string[] {
  if (allowAll && v === ALL) return ALL;
  if (!Array.isArray(v) || v.length > 1000 || !v.every((s) => typeof s === 'string' && s.length > 0 && s.length <= 200)) {
    throw new ValidationError(`${what} must be ${allowAll ? '"*" or ' : ''}a list of names`);
  }
  return [...new Set(v as string[])].sort();
}

/**
 * Checks a grant from outside (a file, the wire, a stored record) and returns a clean copy with
 * sorted, de-duplicated lists; with `registry`, every worker type and collection must exist.
 * @throws `VALIDATION` naming the first bad field.
 */
export function normalizeGrant(g: unknown, registry?: Registry): Grant {
  if (!isObj(g) || !isObj(g.read) || !isObj(g.write)) throw new ValidationError('a grant is { read: { workerTypes, roles }, write: { workerTypes }, admin }');
  const roles = names(g.read.roles, 'grant.read.roles', false);
  for (const r of roles) if (!ALL_ROLES.includes(r as Role)) throw new ValidationError(`grant.read.roles: unknown role ${JSON.stringify(r)} (identity, desired or observed)`);
  if (typeof g.admin !== 'boolean') throw new ValidationError('grant.admin must be a boolean');
  if (g.expiresAt !== undefined && (typeof g.expiresAt !== 'number' || !Number.isSafeInteger(g.expiresAt))) throw new ValidationError('grant.expiresAt must be epoch milliseconds');
  if (g.label !== undefined && (typeof g.label !== 'string' || g.label.length > 200)) throw new ValidationError('grant.label must be a string of at most 200 characters');
  if (g.preset !== undefined && !(GRANT_PRESETS as readonly unknown[]).includes(g.preset)) throw new ValidationError('grant.preset must be viewer, operator or admin');
  const readCollections = g.read.collections === undefined ? [] : (names(g.read.collections, 'grant.read.collections', false) as string[]);
  const writeCollections = g.write.collections === undefined ? [] : (names(g.write.collections, 'grant.write.collections', false) as string[]);
  const out: Grant = {
    read: { workerTypes: names(g.read.workerTypes, 'grant.read.workerTypes', true), ...(readCollections.length ? { collections: readCollections } : {}), roles: roles as Role[] },
    write: { workerTypes: names(g.write.workerTypes, 'grant.write.workerTypes', true), ...(writeCollections.length ? { collections: writeCollections } : {}) },
    admin: g.admin,
    ...(g.expiresAt === undefined ? {} : { expiresAt: g.expiresAt }),
    ...(g.label === undefined ? {} : { label: g.label }),
    ...(g.preset === undefined ? {} : { preset: g.preset as GrantPreset }),
  };
  if (registry !== undefined) {
    const types = new Set(registry.list().map((m) => m.workerType));
    for (const list of [out.read.workerTypes, out.write.workerTypes]) {
      if (list !== ALL) for (const t of list) if (!types.has(t)) throw new ValidationError(`unknown worker type ${JSON.stringify(t)} (known: ${[...types].sort().join(', ') || 'none'})`);
    }
    for (const c of [...readCollections, ...writeCollections]) if (!registry.isRegistered(c)) throw new ValidationError(`unknown collection ${JSON.stringify(c)}`);
    for (const c of writeCollections) if (registry.getMetadata(c).role !== 'desired') throw new ValidationError(`grant.write.collections: ${c} is not a Desired collection`);
  }
  return out;
}

/** What the checks need of a collection. */
export interface CollectionMeta {
  readonly collection: string;
  readonly workerType: string;
  readonly role: string;
}

function expired(g: Grant, now: number): boolean {
  return g.expiresAt !== undefined && !(g.expiresAt > now);
}

const has = (list: typeof ALL | readonly string[], name: string): boolean => list === ALL || list.includes(name);

/** True if `grant` lets its Frontend read the collection (and the grant has not expired). */
export function canRead(grant: Grant, meta: CollectionMeta, now = Date.now()): boolean {
  if (expired(grant, now)) return false;
  if (grant.read.collections?.includes(meta.collection) === true) return true;
  return has(grant.read.workerTypes, meta.workerType) && grant.read.roles.includes(meta.role as Role);
}

/** True if `grant` lets its Frontend write the collection: a readable Desired collection it names. */
export function canWrite(grant: Grant, meta: CollectionMeta, now = Date.now()): boolean {
  if (meta.role !== 'desired' || !canRead(grant, meta, now)) return false;
  return grant.write.collections?.includes(meta.collection) === true || has(grant.write.workerTypes, meta.workerType);
}

/** The collections of `registry` that `grant` lets its Frontend read. */
export function readableCollections(grant: Grant, registry: Registry, now = Date.now()): string[] {
  return registry.list().filter((m) => canRead(grant, { collection: m.name, workerType: m.workerType, role: m.role }, now)).map((m) => m.name);
}

/** One line for logs and listings, without data: `operator (write pump, conveyor)`. */
export function describeGrant(g: Grant): string {
  const list = (l: typeof ALL | readonly string[], extra: readonly string[] | undefined): string => (l === ALL ? 'all' : [...l, ...(extra ?? [])].join(', ') || 'none');
  const reads = `read ${list(g.read.workerTypes, g.read.collections)}${g.read.roles.length < 3 ? ` (${g.read.roles.join(', ')})` : ''}`;
  const writes = `write ${list(g.write.workerTypes, g.write.collections)}`;
  const until = g.expiresAt === undefined ? '' : `, until ${new Date(g.expiresAt).toISOString()}`;
  return `${g.preset ?? 'custom'}${g.admin ? ' +admin' : ''}: ${reads}; ${writes}${until}`;
}

/** The same grant (for detecting changes). */
export function sameGrant(a: Grant, b: Grant): boolean {
  return canonicalGrant(a) === canonicalGrant(b);
}

/** A stable text of a grant (keys in a fixed order), what the Edge signs. */
export function canonicalGrant(g: Grant): string {
  const n = normalizeGrant(g);
  return JSON.stringify([n.read.workerTypes, n.read.collections ?? [], n.read.roles, n.write.workerTypes, n.write.collections ?? [], n.admin, n.expiresAt ?? null, n.label ?? null, n.preset ?? null]);
}
