import { runConformance } from '@cse/conformance';
import { open } from './factory.js';

// No `module`: child processes share neither the browser's IndexedDB nor fake-indexeddb's memory,
// so the crash and multi-process groups report themselves skipped with that reason.
runConformance({ name: 'indexeddb', open });
