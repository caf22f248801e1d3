import { fileURLToPath } from 'node:url';
import { runConformance } from '@cse/conformance';
import { open } from './factory-conformance-cluster.js';

runConformance({ name: 'redis-cluster', open, module: fileURLToPath(new URL('./factory-conformance-cluster.ts', import.meta.url)) });
