/**
 * Guarantee 10: every error is a `CseError` with a stable `code`, recognisable by `isCseError`
 * across copies of core. (The model group also fails on any non-CSE error.)
 */
import { isCseError } from '@cse/core';
import type { StorageAdapter } from '@cse/core';
import { equal, ok, rejects } from '../assert.js';
import type { Group } from '../group.js';

const ADAPTER_CALLS: [string, (a: StorageAdapter) => Promise<unknown>][] = [
  ['commit', (a) => a.commit({ writes: [{ collection: 'a', id: 'x', kind: 'put', body: { id: 'x' } }], now: new Date(0).toISOString() })],
  ['getMany', (a) => a.getMany([{ collection: 'a', id: 'x' }])],
  ['scanCollection', (a) => a.scanCollection('a')],
  ['changes', (a) => a.changes(0, { limit: 10 })],
  ['listCollections', (a) => a.listCollections()],
  ['sequence', (a) => a.sequence()],
];

export const typedErrorsGroupDef: Group = {
  id: 'typed-errors',
  title: '10. Typed errors',
  checks: [
    {
      name: 'NOT_FOUND, CONFLICT, VALIDATION and RESET_REQUIRED come with their codes; a missing document is undefined',
      run: (scope) =>
        scope.child(async (s) => {
          const store = await s.store(s.storeName('codes'));
          equal(await store.get('a', 'missing'), undefined, 'get of a missing document is undefined, not an error');
          await rejects(() => store.update('a', { id: 'missing' }), 'NOT_FOUND', 'update of a missing document');
          await rejects(() => store.delete('a', 'missing'), 'NOT_FOUND', 'delete of a missing document');
          const doc = await store.insert('a', { id: 'x' });
          const conflict = await rejects(() => store.insert('a', { id: 'x' }), 'CONFLICT', 'insert of an existing id');
          equal((conflict as { current?: unknown }).current, doc, 'a CONFLICT carries the current document');
          ok(conflict instanceof Error && typeof conflict.message === 'string' && conflict.message.length > 0, 'errors are Errors with a message');
          await rejects(() => store.insert('_x', { id: 'x' }), 'VALIDATION', 'a reserved collection name');
          const ahead = (await store.lastSyncId()) + 10;
          await rejects(() => store.changesSince(ahead), 'RESET_REQUIRED', 'a cursor ahead of the store');
          const e = await store.update('a', { id: 'x' }, { expectedVersion: 9 }).catch((err: unknown) => err);
          ok(isCseError(e, 'CONFLICT') && (e as Error).name === 'ConflictError', 'a CONFLICT is a ConflictError by name and recognised by isCseError');
        }),
    },
    {
      name: 'compaction: an adapter without it makes compact() throw UNSUPPORTED',
      requires: ({ caps }) => (caps.compaction ? 'adapter declares compaction (checked in the capabilities group)' : undefined),
      run: (scope) =>
        scope.child(async (s) => {
          const store = await s.store(s.storeName('unsupported'));
          await rejects(() => store.compact(0), 'UNSUPPORTED', 'compact() without the compaction capability');
        }),
    },
    {
      name: 'after close: every Store call throws CLOSED, every adapter call rejects with CLOSED, close is idempotent',
      run: (scope) =>
        scope.child(async (s) => {
          const name = s.storeName('closed');
          const adapter = await s.adapter(name);
          const store = await s.store(s.storeName('closed-store'));
          await store.insert('a', { id: 'x' });
          await s.closeOne(store);
          await store.close();
          await rejects(() => store.get('a', 'x'), 'CLOSED', 'get after close');
          await rejects(() => store.insert('a', { id: 'y' }), 'CLOSED', 'insert after close');
          await rejects(() => store.find('a'), 'CLOSED', 'find after close');
          await rejects(() => store.changesSince(0), 'CLOSED', 'changesSince after close');
          await rejects(() => store.lastSyncId(), 'CLOSED', 'lastSyncId after close');
          await rejects(() => store.transaction(async () => undefined), 'CLOSED', 'transaction after close');
          await s.closeOne(adapter);
          await adapter.close();
          for (const [method, run] of ADAPTER_CALLS) await rejects(() => run(adapter), 'CLOSED', `adapter.${method} after close`);
        }),
    },
  ],
};
