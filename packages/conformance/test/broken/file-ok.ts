/** Factory module for child processes: the file adapter with fault "none". */
import { fileFactory } from './file-adapter.js';

export const open = fileFactory('none');
