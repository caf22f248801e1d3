import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BackendError, ConflictError, CseError, ErrorCode, Registry, SyncState, Tier, isCseError, toBackendError } from '@cse/core';
import { memoryStore, rejection } from './helpers.js';

describe('typed errors', () => {
  it('have stable codes, names and causes', () => {
    expect(Object.values(ErrorCode).sort()).toEqual(['BACKEND', 'CLOSED', 'CONFLICT', 'CORRUPT', 'FORBIDDEN', 'NOT_FOUND', 'PROTOCOL', 'RESET_REQUIRED', 'REVOKED', 'UNSUPPORTED', 'UPDATE_REQUIRED', 'VALIDATION']);
    const cause = new Error('disk on fire');
    const e = toBackendError(cause, 'commit failed');
    expect(e).toBeInstanceOf(BackendError);
    expect(e).toMatchObject({ code: 'BACKEND', name: 'BackendError', cause });
    expect(e.message).toBe('commit failed: disk on fire');
    const c = new ConflictError('x');
    expect(toBackendError(c, 'ignored')).toBe(c);
  });

  it('are recognised by code across two copies of core, never by message', async () => {
    // A second module instance of errors.ts, as when an app bundles two copies of @cse/core.
    // @ts-expect-error: the query string (which TypeScript cannot resolve) makes Vite load a second instance.
    const other = (await import('../src/errors.ts?second-copy')) as typeof import('../src/errors.js');
    const foreign = new other.ConflictError('a message that says nothing about conflicts');
    expect(foreign instanceof CseError).toBe(false);
    expect(isCseError(foreign)).toBe(true);
    expect(isCseError(foreign, 'CONFLICT')).toBe(true);
    expect(isCseError(foreign, 'NOT_FOUND')).toBe(false);
    expect(isCseError(Object.assign(new Error('document conflict'), { code: 'CONFLICT' }))).toBe(false);
    expect(isCseError(null)).toBe(false);
  });

  it('every rejected Store call rejects with a CseError (property)', async () => {
    const call = fc.oneof(
      fc.record({ op: fc.constant('insert'), c: fc.string(), doc: fc.anything() }),
      fc.record({ op: fc.constant('get'), c: fc.string(), id: fc.anything() }),
      fc.record({ op: fc.constant('find'), c: fc.constantFrom('t', 'x'), q: fc.anything() }),
      fc.record({ op: fc.constant('changes'), cursor: fc.anything(), limit: fc.anything() }),
    );
    await fc.assert(
      fc.asyncProperty(call, async (input) => {
        const store = memoryStore();
        await store.insert('t', { id: 'keep' });
        const run = (): Promise<unknown> => {
          switch (input.op) {
            case 'insert':
              return store.insert(input.c as string, input.doc as never);
            case 'get':
              return store.get(input.c as string, input.id as string);
            case 'find':
              return store.find(input.c as string, input.q as never);
            default:
              return store.changesSince(input.cursor as number, { limit: input.limit as number });
          }
        };
        try {
          await run();
        } catch (e) {
          expect(isCseError(e), String(e)).toBe(true);
        }
        expect(await store.get('t', 'keep')).toMatchObject({ _version: 1 });
      }),
      { numRuns: 300 },
    );
  });

  it('values whose String() throws still get VALIDATION (seed -1852487599 of the property above)', async () => {
    const store = memoryStore();
    const sync = new SyncState(store, new Registry());
    const hostile = [{ toString: '' }, Object.create(null) as object, Symbol('s'), { [Symbol.toPrimitive]: () => { throw new Error('no'); } }];
    for (const v of hostile) {
      expect((await rejection(store.changesSince(v as never))).code).toBe('VALIDATION');
      expect((await rejection(store.changesSince(0, { limit: v as never }))).code).toBe('VALIDATION');
      expect((await rejection(store.update('c', { id: 'a' }, { expectedVersion: v as never }))).code).toBe('VALIDATION');
      expect((await rejection(sync.markSynced(Tier.Edge, v as never))).code).toBe('VALIDATION');
      expect((await rejection(sync.markSynced(Tier.Edge, 1, { peer: v as never }))).code).toBe('VALIDATION');
    }
  });

  it('a CLOSED store says so', async () => {
    const store = memoryStore();
    await store.close();
    expect((await rejection(store.find('t'))).code).toBe('CLOSED');
  });
});
