/** Factory module for the command's tests: the faulty adapter with fault "keyBytes". */
import { faultyFactory } from './faulty-adapter.js';

export const open = faultyFactory({ keyBytes: true });
