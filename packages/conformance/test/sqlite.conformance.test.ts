import { fileURLToPath } from 'node:url';
import { runConformance } from '../src/index.js';
import { open } from './factories/sqlite.js';

// The suite must pass on a real persistent, crash-safe, multi-process adapter too.
runConformance({ name: 'SqliteAdapter', open, module: fileURLToPath(new URL('./factories/sqlite.ts', import.meta.url)) });
