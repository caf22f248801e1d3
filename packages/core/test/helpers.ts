import { MemoryAdapter, openStore } from '@cse/core';
import type { Store } from '@cse/core';

/** A store on a fresh MemoryAdapter with a clock that ticks 1 ms per call. */
export function memoryStore(): Store {
  let t = Date.parse('2026-01-01T00:00:00.000Z');
  return openStore(new MemoryAdapter(), { clock: () => new Date(t++) });
}

/** Resolves to the error `p` rejects with; fails the test if it resolves. */
export async function rejection(p: Promise<unknown>): Promise<Error & { code?: string; current?: unknown }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected the promise to reject, but it resolved');
}
