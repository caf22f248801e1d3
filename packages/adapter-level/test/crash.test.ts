import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { LevelAdapter } from '@cse/adapter-level';
import { NOW, tempDir } from './helpers.js';
import { collect, spawnChild } from './spawn-child.js';

/** Runs the writer child until it printed `acks` acknowledgements past its start, then SIGKILLs it. */
async function writeAndKill(location: string, sync: boolean, acks: number): Promise<{ start: number; lastAck: number }> {
  const child = spawnChild('crash-writer', [location, String(sync)]);
  const out = collect(child);
  let start = -1;
  let lastAck = -1;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`writer stalled; stderr: ${out.stderr()}`)), 30_000);
    child.stdout.on('data', () => {
      for (const line of out.stdout().split('\n')) {
        const [word, n] = line.split(' ');
        if (word === 'start') start = Number(n);
        if (word === 'ack') lastAck = Math.max(lastAck, Number(n));
      }
      if (start >= 0 && lastAck - start + 1 >= acks) {
        clearTimeout(timer);
        child.kill('SIGKILL');
        resolve();
      }
    });
    out.exited.then((code) => reject(new Error(`writer exited with ${code} before the kill; stderr: ${out.stderr()}`)), reject);
  });
  await out.exited.catch(() => undefined);
  expect(child.signalCode).toBe('SIGKILL');
  return { start, lastAck };
}

describe('a writer killed with SIGKILL mid-commit', () => {
  let cleanup: () => Promise<void>;
  let dir: string;
  beforeAll(async () => ({ dir, cleanup } = await tempDir()));
  afterAll(() => cleanup());

  it.each([
    ['sync: false', false, [12, 40, 3]],
    ['sync: true (default)', true, [8, 25]],
  ])('leaves every commit whole or absent and keeps every ack (%s)', async (_, sync, rounds) => {
    const location = join(dir, `db-${String(sync)}`);
    let acked = -1;
    for (const acks of rounds) {
      const { start, lastAck } = await writeAndKill(location, sync, acks);
      // The child continues after what survived the previous kill, which includes every ack.
      expect(start).toBeGreaterThan(acked);
      acked = lastAck;

      const adapter = new LevelAdapter({ location });
      const { lastSyncId } = await adapter.sequence();
      const crash = await adapter.changes(0, { limit: 1_000_000, collections: ['crash'] });
      const commits = new Map<number, number[]>();
      for (const r of crash) commits.set(r.doc['i'] as number, [...(commits.get(r.doc['i'] as number) ?? []), r.syncId]);
      // Whole commits only, numbered 0..m-1 without a hole: three documents with consecutive ids each.
      expect([...commits.keys()].sort((x, y) => x - y)).toEqual(Array.from({ length: commits.size }, (_, k) => k));
      for (const [i, ids] of commits) expect(ids, `commit ${i}`).toEqual([ids[0], ids[0]! + 1, ids[0]! + 2]);
      // Every acknowledged commit is there.
      expect(commits.size).toBeGreaterThan(lastAck);
      // The counter is at or above everything stored, and the next commit goes above it.
      const stored = Math.max(...(await adapter.changes(0, { limit: 1_000_000 })).map((r) => r.syncId));
      expect(lastSyncId).toBeGreaterThanOrEqual(stored);
      const probe = await adapter.commit({ writes: [{ collection: 'probe', id: `after-${acks}`, kind: 'put', body: {} }], now: NOW });
      expect(probe.ok && probe.records[0]!.syncId).toBe(lastSyncId + 1);
      await adapter.close();
    }
  });
});
