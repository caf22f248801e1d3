import { ValidationError } from '@cse/core';
import type { SqlitePathOptions, Synchronous } from './options.js';
import { SqliteAdapter } from './sqlite-adapter.js';

/**
 * Reads a `sqlite:` store URL into adapter options.
 *
 * - `sqlite:./edge.db`, `sqlite:edge.db`: relative to the working directory.
 * - `sqlite:/var/lib/cse/edge.db`, `sqlite:///var/lib/cse/edge.db`: absolute.
 * - `sqlite::memory:`: a private in-memory database (not persistent).
 * - Query: `synchronous=FULL|NORMAL`, `busy_timeout=<ms>`. Anything else is rejected.
 * - Percent escapes in the path are decoded (`%20` for a space, `%3F` for `?`).
 *
 * @throws `VALIDATION` for anything else.
 */
export function parseSqliteUrl(url: string): SqlitePathOptions {
  if (typeof url !== 'string' || !/^sqlite:/i.test(url)) {
    throw new ValidationError(`${JSON.stringify(url)} is not a sqlite: URL (try sqlite:./edge.db)`);
  }
  const rest = url.slice('sqlite:'.length);
  const q = rest.indexOf('?');
  let rawPath = q === -1 ? rest : rest.slice(0, q);
  const query = new URLSearchParams(q === -1 ? '' : rest.slice(q + 1));
  if (rawPath.startsWith('//')) {
    // sqlite:///abs/path has an empty authority; a host makes no sense for a local file.
    if (!rawPath.startsWith('///')) throw new ValidationError(`${JSON.stringify(url)} names a host; SQLite files are local (use sqlite:/abs/path.db)`);
    rawPath = rawPath.slice(2);
  }
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch (e) {
    throw new ValidationError(`${JSON.stringify(url)} has a malformed percent escape`, { cause: e });
  }
  if (path.length === 0) throw new ValidationError(`${JSON.stringify(url)} names no file (try sqlite:./edge.db)`);
  let synchronous: Synchronous | undefined;
  let busyTimeout: number | undefined;
  for (const [key, value] of query) {
    if (key === 'synchronous') synchronous = value.toUpperCase() as Synchronous;
    else if (key === 'busy_timeout') {
      if (!/^\d+$/.test(value)) throw new ValidationError(`busy_timeout must be a whole number of milliseconds, got ${JSON.stringify(value)}`);
      busyTimeout = Number(value);
    } else throw new ValidationError(`unknown sqlite: URL parameter ${JSON.stringify(key)}; known: synchronous, busy_timeout`);
  }
  return { path, synchronous, busyTimeout };
}

/** What `openStore('sqlite:...')` calls: a `SqliteAdapter` on the file the URL names. */
export function createAdapterFromUrl(url: string): SqliteAdapter {
  return new SqliteAdapter(parseSqliteUrl(url));
}
