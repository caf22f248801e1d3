/** Factory module for the command's tests: the faulty adapter with fault "changesUndefined". */
import { faultyFactory } from './faulty-adapter.js';

export const open = faultyFactory({ changesUndefined: true });
