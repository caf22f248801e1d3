export { IndexedDbAdapter } from './indexeddb-adapter.js';
export type { IndexedDbAdapterOptions } from './options.js';
export { optionsFromUrl } from './options.js';
export { toIndexedDbError } from './errors.js';
export { SCHEMA_VERSION } from './schema.js';
export { createAdapterFromUrl } from './url.js';
