/**
 * The shared part of the adapters' disk-full tests: a small real tmpfs per test, filled with
 * 4 KB documents until a commit fails, and the check that every acknowledged write is still
 * there with its sync id. What the adapter does after the failure is each test's own.
 */
import { afterEach, expect } from 'vitest';
import { isCseError } from '@cse/core';
import type { Store } from '@cse/core';
import { mountTmpfs } from './tmpfs.js';
import type { Tmpfs } from './tmpfs.js';

export const PAYLOAD = 'x'.repeat(4000);

/** Registers the `afterEach` that unmounts it; call at the top of the test file. */
export function tmpfsPerTest(): { mount(size: string): Tmpfs } {
  let fs: Tmpfs | undefined;
  afterEach(() => {
    fs?.dispose();
    fs = undefined;
  });
  return {
    mount(size) {
      fs = mountTmpfs(size);
      return fs;
    },
  };
}

export interface Filled {
  /** id → sync id of every insert that was acknowledged. */
  readonly acked: Map<string, number>;
  readonly lastAcked: number;
  /** The error of the commit that did not fit (a `BACKEND` CseError). */
  readonly failure: Error;
}

/** Inserts `PAYLOAD` documents into `docs` until one fails, which must be a `BACKEND` error. */
export async function fillUntilFull(store: Store): Promise<Filled> {
  const acked = new Map<string, number>();
  let failure: unknown;
  for (let i = 0; i < 5000 && failure === undefined; i++) {
    try {
      const doc = await store.insert('docs', { id: `d${i}`, payload: PAYLOAD });
      acked.set(doc.id, doc._sync_id);
    } catch (e) {
      failure = e;
    }
  }
  expect(isCseError(failure, 'BACKEND'), `the disk never filled, or the error was ${String(failure)}`).toBe(true);
  expect(acked.size).toBeGreaterThan(10);
  return { acked, lastAcked: Math.max(...acked.values()), failure: failure as Error };
}

/** Every acknowledged document of `collection` is there with the sync id it was acknowledged with. */
export async function expectAcked(store: Store, collection: string, acked: ReadonlyMap<string, number>): Promise<void> {
  for (const [id, syncId] of acked) expect((await store.get(collection, id))?._sync_id, id).toBe(syncId);
}
