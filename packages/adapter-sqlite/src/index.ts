export { SqliteAdapter } from './sqlite-adapter.js';
export type { SqliteAdapterOptions, SqliteDatabaseOptions, SqlitePathOptions, Synchronous } from './options.js';
export { DEFAULT_BUSY_TIMEOUT_MS } from './options.js';
export { createAdapterFromUrl, parseSqliteUrl } from './from-url.js';
