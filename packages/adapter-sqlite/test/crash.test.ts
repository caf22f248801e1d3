import { openStore } from '@cse/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SqliteAdapter } from '@cse/adapter-sqlite';
import { childScript, spawnChild, tempDb } from './helpers.js';

const DOCS_PER_COMMIT = 5;
const ROUNDS = 3;

/** Starts the crash writer, waits for `acks` acknowledged commits, then SIGKILLs it. */
function writeUntilKilled(path: string, first: number, acks: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawnChild(childScript('crash-writer.ts'), [path, String(first)]);
    const acked: number[] = [];
    let buffer = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the crash writer acknowledged only ${acked.length} of ${acks} commits in time:\n${err}`));
    }, 30_000);
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      buffer += d;
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) acked.push(Number(line.replace('ack ', '')));
      if (acked.length >= acks) child.kill('SIGKILL');
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL') resolve(acked);
      else reject(new Error(`the crash writer exited with ${code} before it was killed:\n${err}`));
    });
  });
}

describe('a writer killed with SIGKILL', () => {
  it('leaves every commit whole or absent, keeps every acknowledged one, and never reuses ids', async () => {
    // The seed picks how many acks each round waits for; fast-check prints it if this fails.
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 30 }), { minLength: ROUNDS, maxLength: ROUNDS }), async (ackCounts) => {
        const path = tempDb();
        const acknowledged: number[] = [];
        for (const [round, acks] of ackCounts.entries()) {
          acknowledged.push(...(await writeUntilKilled(path, round * 10_000, acks)));
          const store = openStore(new SqliteAdapter({ path }));
          const docs = await store.find('crash');
          const byCommit = new Map<number, number>();
          for (const d of docs) if (d.id !== 'last') byCommit.set(d.commit as number, (byCommit.get(d.commit as number) ?? 0) + 1);
          // Whole or absent: a commit present at all is present with all its documents.
          for (const count of byCommit.values()) expect(count).toBe(DOCS_PER_COMMIT);
          // Durable: every acknowledged commit is there.
          for (const n of acknowledged) expect(byCommit.has(n)).toBe(true);
          // The shared document names the newest stored commit, never a torn one.
          const last = await store.get('crash', 'last');
          expect(byCommit.has(last?.commit as number)).toBe(true);
          expect(last?.commit).toBe(Math.max(...byCommit.keys()));
          // The counter is at least every stored id, and the next commit goes above them all.
          const highest = Math.max(...[...docs, ...(await store.find('probe'))].map((d) => d._sync_id));
          expect(await store.lastSyncId()).toBeGreaterThanOrEqual(highest);
          const probe = await store.insert('probe', { id: `after-${round}` });
          expect(probe._sync_id).toBeGreaterThan(highest);
          await store.close();
        }
      }),
      { numRuns: 2, verbose: true },
    );
  });
});
