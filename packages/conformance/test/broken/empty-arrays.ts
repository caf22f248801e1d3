/** Factory module for the command's tests: the faulty adapter with fault "emptyArraysAsObjects". */
import { faultyFactory } from './faulty-adapter.js';

export const open = faultyFactory({ emptyArraysAsObjects: true });
