import type { StorageAdapter } from '@cse/core';
import { dbName, openAdapter } from './env.js';

/**
 * The conformance factory: opens (or reopens) the store called `storeName`. Its database name
 * joins this run's random prefix, the suite's `ctx.dir` (a fresh name per suite run; IndexedDB
 * has no files, so it serves only as a namespace) and `storeName`.
 */
export function open(storeName: string, ctx: { dir: string }): Promise<StorageAdapter> {
  return openAdapter(dbName(`${ctx.dir}:${storeName}`));
}
