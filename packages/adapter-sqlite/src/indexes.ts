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
 */
const PREFIX = 'cse_ix:';
const COLUMNS = 'collection, id, sync_id, version, deleted, doc';

function indexName(collection: string, field: string): string {
  return `"${PREFIX}${collection}:${field}"`;
}

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
  /** `collection` → indexed fields, as of `#schemaVersion`. */
  #known = new Map<string, Set<string>>();
  #schemaVersion = -1;

  constructor(db: Database) {
    this.#db = db;
    this.#list = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE '${PREFIX}%' ORDER BY name`);
    this.#schemaVersionNow = db.prepare<[], number>('PRAGMA schema_version').pluck();
  }

  /** One DDL statement: atomic, and it builds the index over every row already stored. */
  create(collection: string, field: string): void {
    const path = `'$.${field}'`;
    this.#db.exec(`CREATE INDEX IF NOT EXISTS ${indexName(collection, field)} ON cse_docs (json_type(doc, ${path}), json_extract(doc, ${path})) WHERE collection = '${collection}'`);
  }

  drop(collection: string, field: string): void {
    this.#db.exec(`DROP INDEX IF EXISTS ${indexName(collection, field)}`);
  }

  list(): IndexSpec[] {
    return this.#list.all().map(({ name }) => {
      const rest = name.slice(PREFIX.length);
      const at = rest.indexOf(':');
      return { collection: rest.slice(0, at), field: rest.slice(at + 1) };
    });
  }

  /** The indexed fields of `collection`, read again only when the schema changed (another connection may have added one). */
  #fields(collection: string): Set<string> | undefined {
    const version = this.#schemaVersionNow.get() as number;
    if (version !== this.#schemaVersion) {
      const known = new Map<string, Set<string>>();
      for (const { collection: c, field } of this.list()) {
        let set = known.get(c);
        if (set === undefined) known.set(c, (set = new Set()));
        set.add(field);
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
    const path = `'$.${probe.field}'`;
    const type = `json_type(doc, ${path})`;
    const value = `json_extract(doc, ${path})`;
    const rows: DocRow[] = [];
    for (const selector of probe.selectors) {
      const sql = selectorSql(selector, type, value);
      if (sql === undefined) continue;
      const text = `SELECT ${COLUMNS} FROM cse_docs INDEXED BY ${indexName(collection, probe.field)} WHERE collection = '${collection}' AND ${sql.where}`;
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
