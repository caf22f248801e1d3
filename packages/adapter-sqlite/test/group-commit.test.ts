import BetterSqlite3 from 'better-sqlite3';
import type { CommitRequest, CommitResult, Expectation, WriteOp } from '@cse/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SqliteAdapter } from '@cse/adapter-sqlite';
import { rejection, tempDb } from './helpers.js';

const NOW = '2026-01-01T00:00:00.000Z';
const IDS = ['a', 'b', 'c', 'd'];

const expectation: fc.Arbitrary<Expectation | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.constant({ kind: 'absent' as const }),
  fc.constant({ kind: 'exists' as const }),
  fc.integer({ min: 1, max: 3 }).map((version) => ({ kind: 'version' as const, version })),
);

const write: fc.Arbitrary<WriteOp> = fc
  .record({ id: fc.constantFrom(...IDS), kind: fc.constantFrom('put' as const, 'put' as const, 'delete' as const, 'check' as const), expect: expectation, n: fc.nat(99) })
  .map(({ id, kind, expect: e, n }) => ({ collection: 'things', id, kind, ...(kind === 'put' ? { body: { id, n } } : {}), ...(e === undefined ? {} : { expect: e }) }));

/** A commit of one or two writes on distinct documents. */
const request: fc.Arbitrary<CommitRequest> = fc
  .uniqueArray(write, { minLength: 1, maxLength: 2, selector: (w) => w.id })
  .map((writes) => ({ writes, now: NOW }));

/** Frames in the WAL since it was last truncated (each committed transaction appends at least one). */
function walFrames(db: BetterSqlite3.Database): number {
  const [row] = db.pragma('wal_checkpoint(PASSIVE)') as { log: number }[];
  return (row as { log: number }).log;
}

describe('group commit (SQLite)', () => {
  it('gives concurrent commits the outcomes they get one by one, in call order (property)', async () => {
    // fast-check prints the seed and the rounds of a failure; replay with { seed, path }.
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(request, { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 6 }), async (rounds) => {
        const grouped = new SqliteAdapter({ path: tempDb('grouped.db') });
        const alone = new SqliteAdapter({ path: tempDb('alone.db'), groupCommit: false, synchronous: 'NORMAL' });
        try {
          for (const round of rounds) {
            // Called together: they wait for one group.
            const together = await Promise.all(round.map((r) => grouped.commit(r)));
            const oneByOne: CommitResult[] = [];
            for (const r of round) oneByOne.push(await alone.commit(r));
            expect(together).toEqual(oneByOne);
          }
          expect(await grouped.changes(0, { limit: 1000 })).toEqual(await alone.changes(0, { limit: 1000 }));
          expect(await grouped.sequence()).toEqual(await alone.sequence());
        } finally {
          await grouped.close();
          await alone.close();
        }
      }),
      { numRuns: 25 },
    );
  });

  it('commits concurrent writers in one transaction: fewer WAL frames than commits', async () => {
    const db = new BetterSqlite3(tempDb());
    const adapter = new SqliteAdapter({ database: db });
    db.pragma('wal_checkpoint(TRUNCATE)');
    const COMMITS = 50;
    const results = await Promise.all(Array.from({ length: COMMITS }, (_, i) => adapter.commit({ writes: [{ collection: 'things', id: `d${i}`, kind: 'put', body: { id: `d${i}` } }], now: NOW })));
    expect(results.every((r) => r.ok)).toBe(true);
    // Fifty transactions would have written at least fifty frames.
    expect(walFrames(db)).toBeLessThan(COMMITS);
    await adapter.close();
    db.close();
  });

  it('without it, each commit is its own transaction (the check above can fail)', async () => {
    const db = new BetterSqlite3(tempDb());
    const adapter = new SqliteAdapter({ database: db, groupCommit: false });
    db.pragma('wal_checkpoint(TRUNCATE)');
    const COMMITS = 50;
    await Promise.all(Array.from({ length: COMMITS }, (_, i) => adapter.commit({ writes: [{ collection: 'things', id: `d${i}`, kind: 'put', body: { id: `d${i}` } }], now: NOW })));
    expect(walFrames(db)).toBeGreaterThanOrEqual(COMMITS);
    await adapter.close();
    db.close();
  });

  it('a conflict or an error of one commit fails no other commit of its group', async () => {
    const adapter = new SqliteAdapter({ path: tempDb() });
    await adapter.commit({ writes: [{ collection: 'things', id: 'taken', kind: 'put', body: { id: 'taken' } }], now: NOW });
    // A body SQLite's JSON text cannot hold: it throws inside the group, in its own savepoint.
    const broken = { id: 'broken', big: 1n } as unknown as NonNullable<WriteOp['body']>;
    const [first, conflict, error, last] = [
      adapter.commit({ writes: [{ collection: 'things', id: 'x', kind: 'put', body: { id: 'x' } }], now: NOW }),
      adapter.commit({ writes: [{ collection: 'things', id: 'taken', kind: 'put', body: { id: 'taken' }, expect: { kind: 'absent' } }], now: NOW }),
      adapter.commit({ writes: [{ collection: 'things', id: 'broken', kind: 'put', body: broken }], now: NOW }),
      adapter.commit({ writes: [{ collection: 'things', id: 'y', kind: 'put', body: { id: 'y' } }], now: NOW }),
    ];
    expect(await first).toMatchObject({ ok: true, records: [{ id: 'x', syncId: 2 }] });
    expect(await conflict).toMatchObject({ ok: false, failures: [{ index: 0, current: { id: 'taken' } }] });
    expect((await rejection(error)).code).toBe('BACKEND');
    expect(await last).toMatchObject({ ok: true, records: [{ id: 'y', syncId: 3 }] });
    expect((await adapter.changes(0, { limit: 10 })).map((r) => r.id)).toEqual(['taken', 'x', 'y']);
    await adapter.close();
  });

  it('a commit queued when the adapter closes fails with CLOSED and writes nothing', async () => {
    const path = tempDb();
    const adapter = new SqliteAdapter({ path });
    const pending = adapter.commit({ writes: [{ collection: 'things', id: 'late', kind: 'put', body: { id: 'late' } }], now: NOW });
    const other = adapter.commit({ writes: [{ collection: 'things', id: 'late2', kind: 'put', body: { id: 'late2' } }], now: NOW });
    await adapter.close();
    expect((await rejection(pending)).code).toBe('CLOSED');
    expect((await rejection(other)).code).toBe('CLOSED');
    const again = new SqliteAdapter({ path });
    expect(await again.sequence()).toEqual({ lastSyncId: 0, compactedThrough: 0 });
    await again.close();
  });

  it('refuses a groupCommit that is not a boolean', () => {
    expect(() => new SqliteAdapter({ path: tempDb(), groupCommit: 'yes' as never })).toThrow(expect.objectContaining({ code: 'VALIDATION' }) as Error);
  });
});
