import type { JsonObject, JsonValue } from './adapter.js';
import { ValidationError } from './errors.js';

/** Default largest document, as UTF-8 JSON, metadata excluded: 1 MiB. */
export const DEFAULT_MAX_DOCUMENT_BYTES = 1024 * 1024;
/** Deepest nesting of arrays and objects a document may have. */
export const MAX_DEPTH = 64;
/** Longest id, in UTF-16 code units. */
export const MAX_ID_LENGTH = 1024;
/** Collection names an application may use. Names starting with `_` are the system's. */
export const COLLECTION_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
/** Collection names that reach an adapter (the system's own start with one `_`). */
export const ADAPTER_COLLECTION_NAME = /^_?[A-Za-z][A-Za-z0-9_-]{0,63}$/;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') {
    const proto = Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null;
    const name = proto?.constructor?.name;
    return name ? `a ${name}` : 'an object';
  }
  return `${typeof value} ${String(value).slice(0, 40)}`;
}

/** Throws `VALIDATION` unless `name` is a collection name an application may use. */
export function assertCollectionName(name: unknown, allowSystem = false): asserts name is string {
  const pattern = allowSystem ? ADAPTER_COLLECTION_NAME : COLLECTION_NAME;
  if (typeof name !== 'string' || !pattern.test(name)) {
    throw new ValidationError(
      `invalid collection name ${JSON.stringify(typeof name === 'string' ? name.slice(0, 80) : describe(name))}: ` +
        'use 1-64 characters, a letter first, then letters, digits, "_" or "-" (names starting with "_" are reserved)',
      { details: { collection: typeof name === 'string' ? name : undefined } },
    );
  }
}

/** Throws `VALIDATION` unless `id` is a non-empty, well-formed string of at most 1024 code units. */
export function assertId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || id.length === 0) {
    throw new ValidationError(`document id must be a non-empty string, got ${describe(id)}`);
  }
  if (id.length > MAX_ID_LENGTH) {
    throw new ValidationError(`document id is ${id.length} characters long; the limit is ${MAX_ID_LENGTH}`);
  }
  if (LONE_SURROGATE.test(id)) {
    throw new ValidationError('document id holds a lone UTF-16 surrogate, which no backend can store faithfully');
  }
}

/** True when `v` is JSON a backend can carry faithfully. Quick: builds no paths (see `explain`). */
function isJson(v: unknown, depth: number, seen: Set<object>): boolean {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return true;
  if (typeof v === 'number') return Number.isFinite(v);
  if (typeof v !== 'object' || depth > MAX_DEPTH || seen.has(v)) return false;
  seen.add(v);
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const item: unknown = v[i];
      if (item === undefined || !isJson(item, depth + 1, seen)) return false;
    }
  } else {
    const proto: unknown = Object.getPrototypeOf(v);
    if ((proto !== Object.prototype && proto !== null) || Object.getOwnPropertySymbols(v).length > 0) return false;
    for (const key in v) {
      if (!Object.prototype.hasOwnProperty.call(v, key)) continue;
      const item = (v as Record<string, unknown>)[key];
      if (item !== undefined && !isJson(item, depth + 1, seen)) return false;
    }
  }
  seen.delete(v);
  return true;
}

/** Throws the `VALIDATION` error that says where `value` stops being JSON. */
function explain(value: unknown, path: string): never {
  const seen = new Set<object>();
  const walk = (v: unknown, at: string, depth: number): void => {
    if (v === null || typeof v === 'string' || typeof v === 'boolean') return;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw new ValidationError(`${at} is ${v}, which JSON cannot carry`, { details: { path: at } });
      return;
    }
    if (typeof v !== 'object') {
      throw new ValidationError(`${at} is ${describe(v)}, which JSON cannot carry`, { details: { path: at } });
    }
    if (depth > MAX_DEPTH) throw new ValidationError(`${at} is nested deeper than ${MAX_DEPTH} levels`, { details: { path: at } });
    if (seen.has(v)) throw new ValidationError(`${at} is a cycle`, { details: { path: at } });
    seen.add(v);
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        if (!(i in v) || v[i] === undefined) {
          throw new ValidationError(`${at}[${i}] is undefined (or a hole), which a JSON array cannot carry`, { details: { path: `${at}[${i}]` } });
        }
        walk(v[i], `${at}[${i}]`, depth + 1);
      }
    } else {
      const proto: unknown = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) {
        throw new ValidationError(`${at} is ${describe(v)}; only plain objects are JSON (convert it first, e.g. date.toISOString())`, {
          details: { path: at },
        });
      }
      if (Object.getOwnPropertySymbols(v).length > 0) {
        throw new ValidationError(`${at} has symbol keys, which JSON cannot carry`, { details: { path: at } });
      }
      for (const key of Object.keys(v)) {
        const item = (v as Record<string, unknown>)[key];
        if (item !== undefined) walk(item, `${at}.${key}`, depth + 1);
      }
    }
    seen.delete(v);
  };
  walk(value, path, 0);
  throw new ValidationError(`${path} is not JSON`, { details: { path } });
}

/**
 * Checks that `value` is JSON a backend can carry faithfully and returns its JSON text.
 * Object properties whose value is `undefined` are dropped (JSON semantics); everything else
 * that JSON cannot carry throws `VALIDATION` with the path of the offending value.
 */
export function jsonText(value: unknown, path = '$'): string {
  if (!isJson(value, 0, new Set())) explain(value, path);
  return JSON.stringify(value);
}

/**
 * Checks `value` as `jsonText` does and returns a deep copy of it, in one walk, without the JSON
 * text: what the Store keeps of a document (JSON semantics: `undefined` properties dropped, -0
 * read as 0, "__proto__" kept as data). The text is built only when a cheap upper bound of its
 * UTF-8 size (6 bytes per UTF-16 unit: an escape at worst) passes `maxBytes`; the exact size
 * then decides. Throws `VALIDATION` with the path of what JSON cannot carry, or the size.
 */
export function copyJson(value: unknown, maxBytes: number, what: () => string): JsonObject {
  const budget = { bound: 0 };
  const copy = copyValue(value, 0, budget);
  if (copy === NOT_JSON || copy === null || typeof copy !== 'object' || Array.isArray(copy)) explain(value, '$');
  if (budget.bound > maxBytes) {
    const bytes = utf8Length(JSON.stringify(copy));
    if (bytes > maxBytes) throw new ValidationError(`${what()} is ${bytes} bytes of JSON; the limit is ${maxBytes}`, { details: { bytes, limit: maxBytes } });
  }
  return copy;
}

const NOT_JSON = Symbol('not JSON');

/** The copy of a JSON value, or NOT_JSON. Cycles end at MAX_DEPTH; `explain` then says which. */
function copyValue(v: unknown, depth: number, budget: { bound: number }): JsonValue | typeof NOT_JSON {
  if (typeof v === 'string') {
    budget.bound += 6 * v.length + 3;
    return v;
  }
  if (typeof v === 'number') {
    budget.bound += 25;
    return Number.isFinite(v) ? (v === 0 ? 0 : v) : NOT_JSON;
  }
  if (v === null || typeof v === 'boolean') {
    budget.bound += 6;
    return v;
  }
  if (typeof v !== 'object' || depth > MAX_DEPTH) return NOT_JSON;
  budget.bound += 2;
  if (Array.isArray(v)) {
    const n = v.length;
    const out = new Array<JsonValue>(n);
    for (let i = 0; i < n; i++) {
      const item: unknown = v[i];
      if (item === undefined) return NOT_JSON;
      const c = copyValue(item, depth + 1, budget);
      if (c === NOT_JSON) return NOT_JSON;
      out[i] = c;
    }
    return out;
  }
  const proto: unknown = Object.getPrototypeOf(v);
  if ((proto !== Object.prototype && proto !== null) || Object.getOwnPropertySymbols(v).length > 0) return NOT_JSON;
  const out: JsonObject = {};
  const keys = Object.keys(v);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    const item = (v as Record<string, unknown>)[key];
    if (item === undefined) continue;
    const c = copyValue(item, depth + 1, budget);
    if (c === NOT_JSON) return NOT_JSON;
    budget.bound += 6 * key.length + 4;
    if (key === '__proto__') Object.defineProperty(out, key, { value: c, enumerable: true, writable: true, configurable: true });
    else out[key] = c;
  }
  return out;
}

/** Like `jsonText`, but returns a deep copy of the value. */
export function checkJson(value: unknown, path = '$'): JsonValue {
  // JSON.parse defines own properties, so "__proto__" keys stay data and never touch a prototype.
  return JSON.parse(jsonText(value, path)) as JsonValue;
}

/** A deep copy of a JSON value (safe for `__proto__` keys). */
export function cloneJson<T extends JsonValue>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** UTF-8 length of a string, without allocating. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

function typeRank(v: JsonValue | undefined): number {
  if (v === undefined) return 0;
  if (v === null) return 1;
  switch (typeof v) {
    case 'boolean':
      return 2;
    case 'number':
      return 3;
    case 'string':
      return 4;
    default:
      return Array.isArray(v) ? 5 : 6;
  }
}

function compareStrings(a: string, b: string): number {
  // Code point order: the same on every backend and in every locale.
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i) ?? 0;
    const y = b.codePointAt(i) ?? 0;
    if (x !== y) return x < y ? -1 : 1;
    if (x > 0xffff) i++;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/**
 * The one total order over JSON values (and `undefined`, for a missing field), used by sorting
 * and by the range operators:
 *
 * missing < null < false < true < numbers (by value, so 1 and 1.0 are equal) < strings (by code
 * point) < arrays (element by element, then shorter first) < objects (by sorted keys, then by the
 * values in that key order).
 */
export function compareJson(a: JsonValue | undefined, b: JsonValue | undefined): number {
  const ra = typeRank(a);
  const rb = typeRank(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  switch (ra) {
    case 0:
    case 1:
      return 0;
    case 2:
    case 3:
      return a === b ? 0 : (a as number) < (b as number) ? -1 : 1;
    case 4:
      return compareStrings(a as string, b as string);
    case 5: {
      const x = a as JsonValue[];
      const y = b as JsonValue[];
      for (let i = 0; i < Math.min(x.length, y.length); i++) {
        const c = compareJson(x[i], y[i]);
        if (c !== 0) return c;
      }
      return x.length === y.length ? 0 : x.length < y.length ? -1 : 1;
    }
    default: {
      const x = a as JsonObject;
      const y = b as JsonObject;
      const kx = Object.keys(x).sort(compareStrings);
      const ky = Object.keys(y).sort(compareStrings);
      for (let i = 0; i < Math.min(kx.length, ky.length); i++) {
        const c = compareStrings(kx[i] as string, ky[i] as string);
        if (c !== 0) return c;
      }
      if (kx.length !== ky.length) return kx.length < ky.length ? -1 : 1;
      for (const k of kx) {
        const c = compareJson(x[k], y[k]);
        if (c !== 0) return c;
      }
      return 0;
    }
  }
}

/** Deep equality under `compareJson`. */
export function jsonEqual(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  return compareJson(a, b) === 0;
}

/** Reads a dotted path (`status.temp`, `items.0.name`); `undefined` when any step is missing. */
export function getPath(doc: JsonValue, path: string): JsonValue | undefined {
  let cur: JsonValue | undefined = doc;
  for (const step of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    if (Array.isArray(cur)) {
      if (!/^(0|[1-9][0-9]*)$/.test(step)) return undefined;
      cur = cur[Number(step)];
    } else {
      cur = Object.prototype.hasOwnProperty.call(cur, step) ? cur[step] : undefined;
    }
  }
  return cur;
}
