import { fileURLToPath } from 'node:url';
import { runConformance } from '@cse/conformance';
import { open } from './factory.js';

runConformance({ name: 'level', open, module: fileURLToPath(new URL('./factory.ts', import.meta.url)) });
