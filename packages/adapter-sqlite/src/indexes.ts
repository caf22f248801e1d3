import type { Database, Statement } from 'better-sqlite3';
import type { IndexProbe, IndexSelector, IndexSpec } from '@cse/core';
import type { DocRow } from './statements.js';

/**
 * Secondary indexes as SQLite expression indexes: one partial index per (collection, field),
 *
 *     CREATE INDEX "cse_ix:<collection>:<field>" ON cse_docs (json_type(doc, '$.<field>'), json_extract(doc, '$.<field>'))
 *       WHERE collection = '<collection>'
 *
 * SQLite keeps it in the same transaction as every write of the row, in every process, so the
 * commit path needs nothing. `json_type` tells what `json_extract` cannot (true from 1, an
 * array from its text); strings compare as UTF-8 bytes, which is code point order, as in
 * `compareJson`. Numbers are looked up a few units in the last place wider than asked (SQLite
 * parses the JSON text itself, and need not round exactly as JavaScript does): the Store
 * filters the extra documents out. Tombstones hold no user fields, so they have no entry.
 *
 * Names are spliced into the SQL because a partial index is used only when the query names its
 * collection literally: both come from core's checks (`assertCollectionName`, `INDEX_FIELD`:
 * letters, digits, `_`, `-`, `.`), so neither can hold a quote.
 *
 * SQLite identifiers ignore letter case, while collections and fields are case-sensitive: an
 * index is named `"cse_ix^:<collection>:<field>"` with every capital letter written as `^` and
 * the small one (`Cat` → `^cat`), so names that differ only in case stay apart. Indexes of
 * stores made before that are named `"cse_ix:<collection>:<field>"` as they are; they are read
 * and dropped under their own names.
 */
const PREFIX = 'cse_ix^:';
const LEGACY_PREFIX = 'cse_ix:';
const COLUMNS = 'collection, id, sync_id, version, deleted, doc';

const escapeCase = (name: string): string => name.replace(/[A-Z]/g, (c) => `^${c.toLowerCase()}`);
const unescapeCase = (name: string): string => name.replace(/\^([a-z])/g, (_, c: string) => c.toUpperCase());

function indexName(collection: string, field: string): string {
  return `${PREFIX}${escapeCase(collection)}:${escapeCase(field)}`;
}

/** The spec an index name stands for, or `undefined` for other indexes. */
function specOf(name: string): IndexSpec | undefined {
  const legacy = name.startsWith(LEGACY_PREFIX);
  if (!legacy && !name.startsWith(PREFIX)) return undefined;
  const rest = name.slice(legacy ? LEGACY_PREFIX.length : PREFIX.length);
  const at = rest.indexOf(':');
  const [collection, field] = [rest.slice(0, at), rest.slice(at + 1)];
  return legacy ? { collection, field } : { collection: unescapeCase(collection), field: unescapeCase(field) };
}

const quoted = (name: string): string => `"${name}"`;

/** Two units in the last place below and above `n`, so a differently rounded parse still falls inside. */
function widen(n: number, dir: -1 | 1): number {
  let x = n;
  for (let i = 0; i < 2; i++) {
    if (x === 0) x = dir * Number.MIN_VALUE;
    else {
      const buf = new DataView(new ArrayBuffer(8));
      buf.setFloat64(0, x);
      const bits = buf.getBigUint64(0);
      buf.setBigUint64(0, (x > 0) === (dir > 0) ? bits + 1n : bits - 1n);
      x = buf.getFloat64(0);
    }
  }
  return Number.isFinite(x) ? x : dir * Number.MAX_VALUE;
}

/** One selector as SQL over the index columns, with its parameters; `undefined` selects nothing. */
function selectorSql(selector: IndexSelector, type: string, value: string): { where: string; params: (string | number)[] } | undefined {
  const numbers = `${type} IN ('integer', 'real')`;
  if (selector.kind === 'arrays') return { where: `${type} = 'array'`, params: [] };
  if (selector.kind === 'eq') {
    const v = selector.value;
    if (v === null) return { where: `${type} = 'null'`, params: [] };
    if (typeof v === 'boolean') return { where: `${type} = '${v ? 'true' : 'false'}'`, params: [] };
    if (typeof v === 'number') return { where: `${numbers} AND ${value} BETWEEN ? AND ?`, params: [widen(v, -1), widen(v, 1)] };
    return { where: `${type} = 'text' AND ${value} = ?`, params: [v] };
  }
  const { lower, upper } = selector;
  if (selector.type === 'null') {
    const ok = (lower === undefined || lower.inclusive) && (upper === undefined || upper.inclusive);
    return ok ? { where: `${type} = 'null'`, params: [] } : undefined;
  }
  if (selector.type === 'boolean') {
    const keep = [false, true].filter(
      (b) =>
        (lower === undefined || (lower.inclusive ? b >= (lower.value as boolean) : b > (lower.value as boolean))) &&
        (upper === undefined || (upper.inclusive ? b <= (upper.value as boolean) : b < (upper.value as boolean))),
    );
    return keep.length === 0 ? undefined : { where: `${type} IN (${keep.map((b) => `'${String(b)}'`).join(', ')})`, params: [] };
  }
  const parts = [selector.type === 'number' ? numbers : `${type} = 'text'`];
  const params: (string | number)[] = [];
  // Numbers: widened and inclusive; the Store applies the exact bounds afterwards.
  const number = selector.type === 'number';
  if (lower !== undefined) {
    parts.push(`${value} ${number || lower.inclusive ? '>=' : '>'} ?`);
    params.push(number ? widen(lower.value as number, -1) : (lower.value as string));
  }
  if (upper !== undefined) {
    parts.push(`${value} ${number || upper.inclusive ? '<=' : '<'} ?`);
    params.push(number ? widen(upper.value as number, 1) : (upper.value as string));
  }
  return { where: parts.join(' AND '), params };
}

/** The indexes of one connection. */
export class SqliteIndexes {
  readonly #db: Database;
  readonly #list: Statement<[], { name: string }>;
  /** Prepared once: `db.pragma()` compiles its statement on every call. */
  readonly #schemaVersionNow: Statement<[], number>;
  readonly #statements = new Map<string, Statement<(string | number)[], DocRow>>();
  /** `collection` → indexed field → index name, as of `#schemaVersion`. */
  #known = new Map<string, Map<string, string>>();
  #schemaVersion = -1;

  constructor(db: Database) {
    this.#db = db;
    this.#list = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND substr(name, 1, 6) = 'cse_ix'`);
    this.#schemaVersionNow = db.prepare<[], number>('PRAGMA schema_version').pluck();
  }

  /** One DDL statement: atomic, and it builds the index over every row already stored. */
  create(collection: string, field: string): void {
    if (this.#fields(collection)?.has(field)) return; // kept under a legacy name
    const path = `'$.${field}'`;
    this.#db.exec(`CREATE INDEX IF NOT EXISTS ${quoted(indexName(collection, field))} ON cse_docs (json_type(doc, ${path}), json_extract(doc, ${path})) WHERE collection = '${collection}'`);
  }

  drop(collection: string, field: string): void {
    const name = this.#fields(collection)?.get(field);
    if (name !== undefined) this.#db.exec(`DROP INDEX IF EXISTS ${quoted(name)}`);
  }

  list(): IndexSpec[] {
    return this.#named()
      .map(([spec]) => spec)
      .sort((a, b) => (a.collection === b.collection ? (a.field < b.field ? -1 : 1) : a.collection < b.collection ? -1 : 1));
  }

  #named(): [IndexSpec, string][] {
    return this.#list.all().flatMap(({ name }) => {
      const spec = specOf(name);
      return spec === undefined ? [] : [[spec, name] as [IndexSpec, string]];
    });
  }

  /** The indexed fields of `collection` and their index names, read again only when the schema changed (another connection may have added one). */
  #fields(collection: string): Map<string, string> | undefined {
    const version = this.#schemaVersionNow.get() as number;
    if (version !== this.#schemaVersion) {
      const known = new Map<string, Map<string, string>>();
      for (const [{ collection: c, field }, name] of this.#named()) {
        let fields = known.get(c);
        if (fields === undefined) known.set(c, (fields = new Map()));
        fields.set(field, name);
      }
      this.#known = known;
      this.#schemaVersion = version;
    }
    return this.#known.get(collection);
  }

  /** Rows of the first probe with an index; call inside a read transaction (one snapshot). */
  find(collection: string, probes: readonly IndexProbe[]): DocRow[] | undefined {
    const fields = this.#fields(collection);
    const probe = probes.find((p) => fields?.has(p.field));
    if (probe === undefined) return undefined;
    const name = quoted(fields?.get(probe.field) as string);
    const path = `'$.${probe.field}'`;
    const type = `json_type(doc, ${path})`;
    const value = `json_extract(doc, ${path})`;
    const rows: DocRow[] = [];
    for (const selector of probe.selectors) {
      const sql = selectorSql(selector, type, value);
      if (sql === undefined) continue;
      const text = `SELECT ${COLUMNS} FROM cse_docs INDEXED BY ${name} WHERE collection = '${collection}' AND ${sql.where}`;
      let statement = this.#statements.get(text);
      if (statement === undefined) {
        statement = this.#db.prepare(text);
        if (this.#statements.size > 256) this.#statements.clear();
        this.#statements.set(text, statement);
      }
      for (const row of statement.all(...sql.params)) rows.push(row);
    }
    return rows;
  }
}
