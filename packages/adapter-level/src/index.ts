export { LevelAdapter } from './level-adapter.js';
export type { LevelAdapterOptions, LevelDatabase } from './options.js';
export { createAdapterFromUrl } from './from-url.js';
