/** Factory module for the command's tests: the faulty adapter with fault "scanDropsTombstones". */
import { faultyFactory } from './faulty-adapter.js';

export const open = faultyFactory({ scanDropsTombstones: true });
