import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CommitResult, JsonObject, StorageAdapter, WriteOp } from '@cse/core';

export const NOW = '2024-01-01T00:00:00.000Z';

/** A fresh temporary directory; `cleanup()` removes it. */
export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'cse-level-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export function put(collection: string, id: string, body: JsonObject = {}, expect?: WriteOp['expect']): WriteOp {
  return { collection, id, kind: 'put', body, ...(expect ? { expect } : {}) };
}

export function del(collection: string, id: string): WriteOp {
  return { collection, id, kind: 'delete' };
}

/** Commits and insists that it succeeded. */
export async function commitOk(adapter: StorageAdapter, ...writes: WriteOp[]): Promise<Extract<CommitResult, { ok: true }>> {
  const result = await adapter.commit({ writes, now: NOW });
  if (!result.ok) throw new Error(`commit failed: ${JSON.stringify(result.failures)}`);
  return result;
}
