/** Factory module for child processes: the file adapter with fault "torn". */
import { fileFactory } from './file-adapter.js';

export const open = fileFactory('torn');
