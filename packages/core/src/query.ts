/**
 * The query language of `Store.find`.
 *
 * ```ts
 * await store.find('container_observed', {
 *   filter: { 'status.phase': 'running', 'metrics.cpu': { $gte: 0.5, $lt: 0.9 }, tags: { $in: ['a', 'b'] } },
 *   sort: [{ field: 'metrics.cpu', order: 'desc' }, { field: 'id' }],
 *   skip: 10,
 *   limit: 20,
 * });
 * ```
 *
 * - `filter`: an AND of conditions, one per dotted path. A condition is either a literal (same as
 *   `$eq`) or an object of operators: `$eq $ne $gt $gte $lt $lte $in $nin $exists`.
 * - Equality is deep and by value (`1` equals `1.0`). When the stored value is an array,
 *   `$eq`/`$in` also match if any element matches (and `$ne`/`$nin` are their negation).
 * - Range operators (`$gt` ...) use the total order of `compareJson` but only match values of the
 *   operand's own type (a number never is `$gt` a string).
 * - A missing field matches only `$ne`, `$nin` and `$exists: false`.
 * - `sort`: fields in priority order, `order` `asc` (default) or `desc`, by `compareJson`
 *   (missing sorts first). Ties are broken by `id`, so results are always in one order.
 * - `skip`, `limit`: non-negative integers; no limit means every match. There is no hidden cap.
 * - Anything else (an unknown operator, a `$in` without an array, a negative limit) is a
 *   `ValidationError`.
 */
import type { JsonObject, JsonValue } from './adapter.js';
import { ValidationError } from './errors.js';
import { readInput } from './input-checks.js';
import { checkJson, compareJson, getPath } from './json.js';

export type Operator = '$eq' | '$ne' | '$gt' | '$gte' | '$lt' | '$lte' | '$in' | '$nin' | '$exists';

export type Condition = JsonValue | { [op in Operator]?: JsonValue };

export interface SortField {
  /** A dotted path. */
  readonly field: string;
  /** Default `asc`. */
  readonly order?: 'asc' | 'desc';
}

export interface Query {
  readonly filter?: Readonly<Record<string, Condition>>;
  readonly sort?: readonly SortField[];
  readonly skip?: number;
  readonly limit?: number;
}

const OPERATORS = new Set<string>(['$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', '$exists']);

interface CompiledCondition {
  readonly path: string;
  readonly ops: readonly (readonly [Operator, JsonValue])[];
}

export interface CompiledQuery {
  readonly conditions: readonly CompiledCondition[];
  readonly sort: readonly SortField[];
  readonly skip: number;
  readonly limit: number;
}

function checkPath(path: string, what: string): void {
  if (path.length === 0 || path.split('.').some((s) => s.length === 0)) {
    throw new ValidationError(`${what} ${JSON.stringify(path)} is not a dotted path`);
  }
}

function checkCount(value: unknown, name: string): number {
  if (value === undefined) return name === 'limit' ? Infinity : 0;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new ValidationError(`query ${name} must be a non-negative integer, got ${String(value)}`);
  }
  return value;
}

function isOperatorObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const keys = Object.keys(v);
  const dollar = keys.filter((k) => k.startsWith('$'));
  if (dollar.length > 0 && dollar.length !== keys.length) {
    throw new ValidationError(`a condition mixes operators and fields: ${JSON.stringify(keys)}`);
  }
  return dollar.length > 0;
}

/**
 * Validates a query and prepares it for `matches`/`runQuery`. Throws `VALIDATION` (also when a
 * getter or proxy trap of the query throws while it is read).
 */
export function compileQuery(query: Query | undefined): CompiledQuery {
  return readInput('the query', () => compile(query));
}

function compile(query: Query | undefined): CompiledQuery {
  if (query === undefined) return { conditions: [], sort: [], skip: 0, limit: Infinity };
  if (query === null || typeof query !== 'object' || Array.isArray(query)) {
    throw new ValidationError('a query must be an object like { filter, sort, skip, limit }');
  }
  for (const key of Object.keys(query)) {
    if (!['filter', 'sort', 'skip', 'limit'].includes(key)) {
      throw new ValidationError(`unknown query key ${JSON.stringify(key)} (use filter, sort, skip, limit)`);
    }
  }
  const conditions: CompiledCondition[] = [];
  const filter = query.filter ?? {};
  if (filter === null || typeof filter !== 'object' || Array.isArray(filter)) {
    throw new ValidationError('query filter must be an object of path: condition');
  }
  for (const [path, cond] of Object.entries(filter)) {
    if (path.startsWith('$')) throw new ValidationError(`unknown operator ${JSON.stringify(path)} at the top of a filter`);
    checkPath(path, 'filter field');
    const ops: [Operator, JsonValue][] = [];
    if (isOperatorObject(cond)) {
      for (const [op, operand] of Object.entries(cond)) {
        if (!OPERATORS.has(op)) throw new ValidationError(`unknown query operator ${JSON.stringify(op)} on ${JSON.stringify(path)}`);
        const value = checkJson(operand, `filter.${path}.${op}`);
        if ((op === '$in' || op === '$nin') && !Array.isArray(value)) {
          throw new ValidationError(`${op} on ${JSON.stringify(path)} needs an array`);
        }
        if (op === '$exists' && typeof value !== 'boolean') {
          throw new ValidationError(`$exists on ${JSON.stringify(path)} needs true or false`);
        }
        ops.push([op as Operator, value]);
      }
    } else {
      ops.push(['$eq', checkJson(cond, `filter.${path}`)]);
    }
    conditions.push({ path, ops });
  }
  const sort = query.sort ?? [];
  if (!Array.isArray(sort)) throw new ValidationError('query sort must be an array of { field, order }');
  for (const s of sort as unknown[]) {
    if (s === null || typeof s !== 'object' || typeof (s as SortField).field !== 'string') {
      throw new ValidationError('each sort entry must be { field: string, order?: "asc" | "desc" }');
    }
    const { field, order } = s as SortField;
    checkPath(field, 'sort field');
    if (order !== undefined && order !== 'asc' && order !== 'desc') {
      throw new ValidationError(`sort order must be "asc" or "desc", got ${JSON.stringify(order)}`);
    }
  }
  return { conditions, sort, skip: checkCount(query.skip, 'skip'), limit: checkCount(query.limit, 'limit') };
}

function sameTypeClass(a: JsonValue, b: JsonValue): boolean {
  if (a === null || b === null) return a === b;
  if (Array.isArray(a) || Array.isArray(b)) return Array.isArray(a) && Array.isArray(b);
  return typeof a === typeof b;
}

function equalsOrContains(stored: JsonValue | undefined, operand: JsonValue): boolean {
  if (stored === undefined) return false;
  if (compareJson(stored, operand) === 0) return true;
  return Array.isArray(stored) && stored.some((item) => compareJson(item, operand) === 0);
}

function test(stored: JsonValue | undefined, op: Operator, operand: JsonValue): boolean {
  switch (op) {
    case '$eq':
      return equalsOrContains(stored, operand);
    case '$ne':
      return !equalsOrContains(stored, operand);
    case '$in':
      return (operand as JsonValue[]).some((o) => equalsOrContains(stored, o));
    case '$nin':
      return !(operand as JsonValue[]).some((o) => equalsOrContains(stored, o));
    case '$exists':
      return (stored !== undefined) === operand;
    default: {
      if (stored === undefined || !sameTypeClass(stored, operand)) return false;
      const c = compareJson(stored, operand);
      return op === '$gt' ? c > 0 : op === '$gte' ? c >= 0 : op === '$lt' ? c < 0 : c <= 0;
    }
  }
}

/** True when `doc` satisfies every condition of `query`. */
export function matches(doc: JsonObject, query: CompiledQuery): boolean {
  return query.conditions.every(({ path, ops }) => {
    const stored = getPath(doc, path);
    return ops.every(([op, operand]) => test(stored, op, operand));
  });
}

/** Filters, sorts (ties by id), skips and limits. Does not copy the documents. */
export function runQuery(docs: readonly JsonObject[], query: CompiledQuery): JsonObject[] {
  const hits = docs.filter((d) => matches(d, query));
  hits.sort((a, b) => {
    for (const { field, order } of query.sort) {
      const c = compareJson(getPath(a, field), getPath(b, field));
      if (c !== 0) return order === 'desc' ? -c : c;
    }
    return compareJson(a.id, b.id);
  });
  const end = query.limit === Infinity ? undefined : query.skip + query.limit;
  return hits.slice(query.skip, end);
}
