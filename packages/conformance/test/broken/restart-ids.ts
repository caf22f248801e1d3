/** Factory module for the command's tests: a persistent adapter whose sync ids restart after a reopen. */
import { faultyFactory } from './faulty-adapter.js';

export const open = faultyFactory({ restartIds: true });
