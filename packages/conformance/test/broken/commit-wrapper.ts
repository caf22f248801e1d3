/**
 * Broken adapters made from the correct faulty adapter by replacing its `commit` (every other
 * member passes through): the shape of the defects issue 27 found in the Redis adapter.
 */
import type { CommitRequest, CommitResult, Expectation, StorageAdapter, WriteOp } from '@cse/core';
import { toBackendError } from '@cse/core';
import type { OpenAdapter } from '../../src/index.js';
import { faultyFactory } from './faulty-adapter.js';

type Commit = (inner: StorageAdapter, request: CommitRequest) => Promise<CommitResult>;

function withCommit(commit: Commit): OpenAdapter {
  const open = faultyFactory({});
  return async (storeName, ctx) => {
    const inner = await open(storeName, ctx);
    return new Proxy(inner, {
      get(target, key) {
        if (key === 'commit') return (request: CommitRequest) => commit(target, request);
        const value: unknown = Reflect.get(target, key, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
  };
}

const WELL_FORMED = new Set(['absent', 'exists', 'version']);

/** Reads an expectation it does not understand as "no precondition" and writes (as Redis did). */
export const unvalidatedExpectations: OpenAdapter = withCommit((inner, request) => {
  const writes = request.writes.map((w): WriteOp => {
    const expect = w.expect as unknown;
    const known = typeof expect === 'object' && expect !== null && WELL_FORMED.has((expect as Expectation).kind);
    if (known && (expect as Expectation).kind === 'version' && typeof (expect as { version: unknown }).version !== 'number') {
      return { ...w, expect: { kind: 'version', version: Number((expect as { version: unknown }).version) } };
    }
    if (known || expect === undefined) return w;
    const { expect: _dropped, ...rest } = w;
    return rest;
  });
  return inner.commit({ ...request, writes });
});

/** Fails every commit above 20 000 writes, as a backend whose arguments overflow one call does. */
export const batchLimit: OpenAdapter = withCommit(async (inner, request) => {
  if (request.writes.length > 20_000) throw toBackendError(new RangeError('Maximum call stack size exceeded'), 'commit failed');
  return inner.commit(request);
});
