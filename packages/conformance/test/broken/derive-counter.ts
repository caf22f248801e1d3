/** Factory module for the command's tests: the faulty adapter with fault "deriveCounter". */
import { faultyFactory } from './faulty-adapter.js';

export const open = faultyFactory({ deriveCounter: true });
