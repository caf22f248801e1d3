/**
 * System access: how the CSE components of this package (Registry, TxCache, SyncState, Replica,
 * TriangularStore) read and write `_`-collections and replica metadata through a Store, under a
 * symbol so that applications do not stumble on it.
 */
import type { DocKey, JsonObject, StoredRecord, WriteOp } from './adapter.js';
import type { StoreContext } from './store-context.js';

/** Symbol-keyed entry points for the CSE components in this package (system collections). */
export const kSystem = Symbol('cse.system');

export interface SystemAccess {
  commit(writes: readonly WriteOp[]): Promise<readonly StoredRecord[]>;
  getMany(keys: readonly DocKey[]): Promise<(StoredRecord | undefined)[]>;
  scan(collection: string): Promise<StoredRecord[]>;
  body(collection: string, doc: unknown, replica?: boolean): JsonObject;
}

export function systemAccess(ctx: StoreContext): SystemAccess {
  return {
    commit: async (ops) => {
      ctx.open();
      return ctx.commit(ops.map((op) => ({ op, onFail: 'conflict' as const })));
    },
    getMany: (keys) => ctx.call('read failed', () => ctx.adapter.getMany(keys)),
    scan: (collection) => ctx.call('scan failed', () => ctx.adapter.scanCollection(collection)),
    body: (collection, doc, replica = false) => ctx.body(collection, doc, true, replica),
  };
}
