/**
 * Secondary indexes: what an index holds, how a query is turned into index lookups, and the one
 * key encoding the key-value adapters share.
 *
 * An index is declared per collection and field (`store.createIndex('pumps', 'status.phase')`).
 * It holds, for every live document of the collection, at most one entry for the value at that
 * field:
 *
 * | stored value | entry |
 * |---|---|
 * | `null`, a boolean, a number, a string | the value |
 * | an array | one "array" entry (an array matches `$eq`/`$in` when an element does) |
 * | an object, or no value (missing field) | none: no indexed condition can match it |
 *
 * `find` asks the adapter for the documents whose entry falls into the selectors of one
 * condition of the query (`$eq`, `$in`, `$gt`/`$gte`/`$lt`/`$lte` with a scalar operand) and
 * applies the whole query (every condition, sort, skip, limit) to them. The selectors are chosen
 * so that every document the condition matches is among them (see `query.ts`: range operators
 * only match values of the operand's own type; `$eq` also matches an array holding the value),
 * so the answer is exactly the answer of a full scan. A query with no such condition on an
 * indexed field scans, as it always did.
 */
import type { JsonObject, JsonValue } from './adapter.js';
import { ValidationError, describeValue } from './errors.js';
import { assertCollectionName, getPath } from './json.js';
import type { CompiledQuery } from './query.js';

export type { IndexBound, IndexProbe, IndexScalar, IndexSelector, IndexSpec } from './index-types.js';
import type { IndexBound, IndexProbe, IndexScalar, IndexSelector } from './index-types.js';

/** Longest indexed field path, in characters. */
export const MAX_INDEX_FIELD_LENGTH = 128;
/** Field paths an index may name: names of letters, digits and `_`, a letter first, joined by dots, at most 8 deep. */
export const INDEX_FIELD = /^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,7}$/;
/** `$in` lists longer than this are not looked up in an index (one lookup per element). */
export const MAX_IN_LOOKUPS = 64;

/** Throws `VALIDATION` unless `collection`/`field` can carry an index. */
export function assertIndexSpec(collection: unknown, field: unknown): asserts field is string {
  assertCollectionName(collection);
  if (typeof field !== 'string' || field.length > MAX_INDEX_FIELD_LENGTH || !INDEX_FIELD.test(field)) {
    throw new ValidationError(
      `cannot index field ${typeof field === 'string' ? JSON.stringify(field.slice(0, 80)) : describeValue(field)}: ` +
        'use a dotted path of up to 8 names of letters, digits and "_" (a letter first, no array positions, no metadata fields), at most 128 characters',
      { details: { collection, field: typeof field === 'string' ? field : undefined } },
    );
  }
}

function isScalar(v: JsonValue | undefined): v is IndexScalar {
  return v === null || typeof v === 'boolean' || typeof v === 'number' || typeof v === 'string';
}

type ScalarType = 'null' | 'boolean' | 'number' | 'string';

function typeOf(v: IndexScalar): ScalarType {
  return v === null ? 'null' : (typeof v as ScalarType);
}

/**
 * The probes of a compiled query, best first: conditions with `$eq`, then `$in`, then ranges.
 * Empty when no condition can use an index. An adapter answers the first probe whose field it
 * indexes.
 */
export function planIndexProbes(query: CompiledQuery): IndexProbe[] {
  const ranked: [number, IndexProbe][] = [];
  for (const { path, ops } of query.conditions) {
    if (!INDEX_FIELD.test(path)) continue;
    const eq = ops.find(([op, v]) => op === '$eq' && isScalar(v));
    if (eq) {
      ranked.push([0, { field: path, selectors: [{ kind: 'eq', value: eq[1] as IndexScalar }, { kind: 'arrays' }] }]);
      continue;
    }
    const inList = ops.find(([op, v]) => op === '$in' && Array.isArray(v) && v.length <= MAX_IN_LOOKUPS && v.every(isScalar));
    if (inList) {
      const values = inList[1] as IndexScalar[];
      ranked.push([1, { field: path, selectors: [...values.map((value): IndexSelector => ({ kind: 'eq', value })), { kind: 'arrays' }] }]);
      continue;
    }
    // Range operators: only values of the operand's type match, so one typed range holds them.
    let type: ScalarType | undefined;
    let lower: IndexBound | undefined;
    let upper: IndexBound | undefined;
    for (const [op, v] of ops) {
      if (!(op === '$gt' || op === '$gte' || op === '$lt' || op === '$lte') || !isScalar(v)) continue;
      type ??= typeOf(v);
      if (typeOf(v) !== type) continue; // can match nothing together with the first; the filter decides
      const bound = { value: v, inclusive: op === '$gte' || op === '$lte' };
      if (op === '$gt' || op === '$gte') lower = tighter(lower, bound, 1);
      else upper = tighter(upper, bound, -1);
    }
    if (type !== undefined) ranked.push([2, { field: path, selectors: [{ kind: 'range', type, ...(lower ? { lower } : {}), ...(upper ? { upper } : {}) }] }]);
  }
  return ranked.sort((a, b) => a[0] - b[0]).map(([, p]) => p);
}

/** The stricter of two bounds (`dir` 1 for lower bounds, -1 for upper). Both have the same type. */
function tighter(a: IndexBound | undefined, b: IndexBound, dir: 1 | -1): IndexBound {
  if (a === undefined) return b;
  const c = compareScalar(a.value, b.value) * dir;
  if (c !== 0) return c > 0 ? a : b;
  return a.inclusive ? b : a;
}

function compareScalar(a: IndexScalar, b: IndexScalar): number {
  if (a === b) return 0;
  return (a as number | string | boolean) < (b as number | string | boolean) ? -1 : 1;
}

// ---- the shared key encoding ---------------------------------------------------------------

/*
 * Key-value backends keep an index as sorted string keys `<value>\u0001<suffix>`, the suffix
 * naming the document. `<value>` is a type tag and the value, built so that plain string order
 * of the keys is `compareJson` order of the values in all the orders our backends sort strings
 * by: UTF-8 bytes (LevelDB, Redis), UTF-16 code units (IndexedDB, JavaScript). For that, no
 * encoded value holds a code unit below 2 (so `\u0001` ends every value) or a surrogate (so code
 * unit order and code point order agree):
 *
 * - tags: null `b`, false `c`, true `d`, number `e`, string `f`, array `g`;
 * - a number: 16 hex digits of its IEEE 754 bits, sign bit flipped (all bits flipped when
 *   negative): hex order is numeric order; -0 is written as 0;
 * - a string: each code point below U+BFFE as one code unit (code point + 2), any other as three
 *   (U+C000 + bits 20-12, U+0040 + bits 11-6, U+0040 + bits 5-0). A prefix sorts first, as in
 *   `compareJson`.
 */
const TAG = { null: 'b', false: 'c', true: 'd', number: 'e', string: 'f', array: 'g' } as const;
/** Ends every encoded value inside a key. */
export const INDEX_KEY_SEPARATOR = '\u0001';
/** The character after the separator: the exclusive end of one value's keys. */
const AFTER_SEPARATOR = '\u0002';
/** The tag after each type's tag: the exclusive end of that type's keys. */
const TYPE_END: Record<ScalarType, string> = { null: 'c', boolean: 'e', number: 'f', string: 'g' };
const TYPE_START: Record<ScalarType, string> = { null: 'b', boolean: 'c', number: 'e', string: 'f' };

const scratch = new DataView(new ArrayBuffer(8));

function encodeNumber(n: number): string {
  scratch.setFloat64(0, n === 0 ? 0 : n);
  let hi = scratch.getUint32(0);
  let lo = scratch.getUint32(4);
  if (hi >>> 31 === 1) {
    hi = ~hi >>> 0;
    lo = ~lo >>> 0;
  } else {
    hi = (hi | 0x80000000) >>> 0;
  }
  return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
}

function encodeString(s: string): string {
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0) as number;
    if (cp < 0xbffe) out += String.fromCharCode(cp + 2);
    else out += String.fromCharCode(0xc000 + (cp >> 12), 0x40 + ((cp >> 6) & 0x3f), 0x40 + (cp & 0x3f));
  }
  return out;
}

/** The encoded value of a scalar (without the separator). */
export function encodeIndexValue(value: IndexScalar): string {
  if (value === null) return TAG.null;
  if (value === true) return TAG.true;
  if (value === false) return TAG.false;
  if (typeof value === 'number') return TAG.number + encodeNumber(value);
  return TAG.string + encodeString(value);
}

/**
 * The encoded entry of a document's value at an indexed field (see the table at the top), or
 * `undefined` when the document has no entry. Key-value adapters store `entry + INDEX_KEY_SEPARATOR + suffix`.
 */
export function indexEntry(doc: JsonObject, field: string): string | undefined {
  const v = getPath(doc, field);
  if (v === undefined) return undefined;
  if (Array.isArray(v)) return TAG.array;
  if (isScalar(v)) return encodeIndexValue(v);
  return undefined;
}

/** The keys (`entry + separator + suffix`) a selector covers: `gte <= key < lt`. */
export function indexKeyRange(selector: IndexSelector): { readonly gte: string; readonly lt: string } {
  if (selector.kind === 'arrays') return { gte: TAG.array + INDEX_KEY_SEPARATOR, lt: TAG.array + AFTER_SEPARATOR };
  if (selector.kind === 'eq') {
    const v = encodeIndexValue(selector.value);
    return { gte: v + INDEX_KEY_SEPARATOR, lt: v + AFTER_SEPARATOR };
  }
  const { lower, upper, type } = selector;
  const gte = lower === undefined ? TYPE_START[type] : encodeIndexValue(lower.value) + (lower.inclusive ? INDEX_KEY_SEPARATOR : AFTER_SEPARATOR);
  const lt = upper === undefined ? TYPE_END[type] : encodeIndexValue(upper.value) + (upper.inclusive ? AFTER_SEPARATOR : INDEX_KEY_SEPARATOR);
  return { gte, lt };
}

/** The key of one entry: encoded value, separator, suffix (usually the document id). */
export function indexKey(entry: string, suffix: string): string {
  return entry + INDEX_KEY_SEPARATOR + suffix;
}

/** The suffix of a key built by `indexKey`. */
export function indexKeySuffix(key: string): string {
  return key.slice(key.indexOf(INDEX_KEY_SEPARATOR) + 1);
}
