import { fileURLToPath } from 'node:url';
import { runConformance } from '@cse/conformance';
import { open } from './factory-conformance.js';

// The single server here, the cluster in conformance-cluster.test.ts: two files, so that they
// run side by side in two workers (most of their time is spent waiting for Redis).
runConformance({ name: 'redis', open, module: fileURLToPath(new URL('./factory-conformance.ts', import.meta.url)) });
