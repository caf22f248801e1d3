export { RedisAdapter } from './redis-adapter.js';
export type { ParsedRedisUrl, RedisAdapterOptions } from './options.js';
export { DEFAULT_COMMAND_TIMEOUT_MS, clientOptions, clusterOptions, parseRedisUrl } from './options.js';
export { MAX_NAMESPACE_LENGTH, assertNamespace } from './keys.js';
export { createAdapterFromUrl } from './from-url.js';
