import { fileURLToPath } from 'node:url';
import { runConformance } from '@cse/conformance';
import { open as openCluster } from './factory-cluster.js';
import { open } from './factory.js';

runConformance({ name: 'redis', open, module: fileURLToPath(new URL('./factory.ts', import.meta.url)) });
runConformance({ name: 'redis-cluster', open: openCluster, module: fileURLToPath(new URL('./factory-cluster.ts', import.meta.url)) });
