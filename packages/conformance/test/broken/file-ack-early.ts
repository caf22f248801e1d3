/** Factory module for child processes: the file adapter with fault "ackEarly". */
import { fileFactory } from './file-adapter.js';

export const open = fileFactory('ackEarly');
