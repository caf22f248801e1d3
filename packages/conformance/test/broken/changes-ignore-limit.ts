/** Factory module for the command's tests: the faulty adapter with fault "changesIgnoreLimit". */
import { faultyFactory } from './faulty-adapter.js';

export const open = faultyFactory({ changesIgnoreLimit: true });
