import { ValidationError } from '@cse/core';
import { LevelAdapter } from './level-adapter.js';

/**
 * Opens a `LevelAdapter` on a classic-level directory named by a URL, for `openStore(url)`:
 * `level:./data`, `level:/abs/dir`, `level:./data?namespace=plant-a&sync=false`. The path is
 * taken as written (relative to the working directory); the query may set `namespace` and
 * `sync` (`true`/`false`). Resolves once the database is open.
 *
 * @throws `VALIDATION` for a malformed URL, `BACKEND` if the directory cannot be opened (locked
 * by another process, unreadable...).
 */
export async function createAdapterFromUrl(url: string): Promise<LevelAdapter> {
  if (typeof url !== 'string' || !url.toLowerCase().startsWith('level:')) {
    throw new ValidationError(`${JSON.stringify(url)} is not a level: URL (try level:./data)`);
  }
  const rest = url.slice('level:'.length);
  const q = rest.indexOf('?');
  const location = q === -1 ? rest : rest.slice(0, q);
  if (location.length === 0) throw new ValidationError(`${JSON.stringify(url)} names no directory (try level:./data)`);
  const params = new URLSearchParams(q === -1 ? '' : rest.slice(q + 1));
  for (const key of params.keys()) {
    if (key !== 'namespace' && key !== 'sync') throw new ValidationError(`unknown level: URL parameter ${JSON.stringify(key)}; known: namespace, sync`);
  }
  const sync = params.get('sync');
  if (sync !== null && sync !== 'true' && sync !== 'false') throw new ValidationError('level: URL parameter sync must be true or false');
  const namespace = params.get('namespace');
  const adapter = new LevelAdapter({
    location,
    ...(namespace !== null ? { namespace } : {}),
    ...(sync !== null ? { sync: sync === 'true' } : {}),
  });
  await adapter.ready();
  return adapter;
}
