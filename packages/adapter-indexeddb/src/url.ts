import { IndexedDbAdapter } from './indexeddb-adapter.js';
import { optionsFromUrl } from './options.js';

/**
 * What `openStore('indexeddb:cse')` calls: opens the database named in the URL (see
 * `optionsFromUrl`) on `globalThis.indexedDB` and waits until it is open.
 *
 * @throws `VALIDATION` for a bad URL or no IndexedDB, `BACKEND` when the open fails.
 */
export async function createAdapterFromUrl(url: string): Promise<IndexedDbAdapter> {
  const adapter = new IndexedDbAdapter(optionsFromUrl(url));
  await adapter.ready();
  return adapter;
}
