// The page's rows kept current from the replica's change feed (web/model.ts, as the sync worker
// uses it): after any sequence of writes, deletes and conflicts, the rows built from the feed
// equal the rows read from the whole replica. Replay a failing property with CSE_DASHBOARD_SEED.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { Replica, openStore } from '@cse/core';
import type { ReplicaWrite } from '@cse/core';
import { SqliteAdapter } from '@cse/adapter-sqlite';
import { MACHINE_COLLECTIONS, MachineDocs, rowOf, sameRow } from '../web/model.js';

const dir = mkdtempSync(join(tmpdir(), 'cse-model-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const seed = process.env.CSE_DASHBOARD_SEED === undefined ? undefined : Number(process.env.CSE_DASHBOARD_SEED);

type Op = { coll: number; machine: number; kind: 'put' | 'delete'; speed: number; status: 'synced' | 'pending' | 'conflict' };

const opArb: fc.Arbitrary<Op> = fc.record({
  coll: fc.integer({ min: 0, max: 2 }),
  machine: fc.integer({ min: 0, max: 7 }),
  kind: fc.constantFrom('put' as const, 'put' as const, 'delete' as const),
  speed: fc.integer({ min: 0, max: 3000 }),
  status: fc.constantFrom('synced' as const, 'pending' as const, 'conflict' as const),
});

function body(op: Op, id: string): Record<string, unknown> {
  const meta = { _edge_version: op.speed % 5, _sync_status: op.status, ...(op.status === 'conflict' ? { _conflict: { value: { state: 'stopped', speed: 0 }, base: 1, code: 'CONFLICT', message: 'x' } } : {}) };
  if (op.coll === 0) return { id, name: `Machine ${id}`, serial: `S-${op.speed}`, line: 'A', ...meta };
  if (op.coll === 1) return { id, state: op.speed % 2 === 0 ? 'running' : 'stopped', speed: op.speed, ...meta };
  return { id, state: 'running', speed: op.speed, temperatureC: 30, reportedAt: '2026-12-07T00:00:00Z', ...meta };
}

describe('the rows from the change feed', () => {
  it('equal the rows of a full read after any writes, deletes and conflicts', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(opArb, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 12 }), async (batches) => {
        const store = openStore(new SqliteAdapter({ path: join(dir, `r${run++}.db`) }));
        try {
          const followed = new MachineDocs();
          await followed.loadAll(store);
          let cursor = await store.lastSyncId();
          for (const batch of batches) {
            // One write per document and commit (the last of the batch).
            const writes = new Map<string, ReplicaWrite>();
            for (const op of batch) {
              const id = `m${op.machine}`;
              const collection = MACHINE_COLLECTIONS[op.coll] as string;
              writes.set(`${collection}/${id}`, op.kind === 'delete' ? { collection, id, kind: 'delete' } : { collection, id, kind: 'put', body: body(op, id) });
            }
            await new Replica(store).commit([...writes.values()]);
            for (;;) {
              const page = await store.changesSince(cursor, { collections: MACHINE_COLLECTIONS, limit: 3 });
              for (const c of page.changes) followed.apply(c.collection, c.id, c.deleted, c.doc);
              cursor = page.cursor;
              if (!page.hasMore) break;
            }
          }
          const full = new MachineDocs();
          await full.loadAll(store);
          expect(followed.ids()).toEqual(full.ids());
          for (const id of full.ids()) expect(followed.row(id)).toEqual(full.row(id));
          for (let m = 0; m < 8; m++) if (!full.ids().includes(`m${m}`)) expect(followed.row(`m${m}`)).toBeUndefined();
        } finally {
          await store.close();
        }
      }),
      { seed, numRuns: 40 },
    );
  });

  it('a row counts as unchanged only when the page would show it the same', () => {
    const sync = { _sync_id: 7, _version: 2, _created_at: '2026-12-07T00:00:00Z', _updated_at: '2026-12-07T00:00:00Z', _edge_version: 3, _sync_status: 'synced', _synced_at: '2026-12-07T00:00:00Z' };
    const identity = { id: 'm1', name: 'Machine m1', serial: 'S-1', line: 'A', ...sync };
    const desired = { id: 'm1', state: 'running', speed: 900, ...sync };
    const observed = { id: 'm1', state: 'running', speed: 880, temperatureC: 30, reportedAt: '2026-12-07T00:00:00Z', ...sync };
    const row = rowOf('m1', identity, desired, observed);
    // Only sync bookkeeping the page does not show moved: the same.
    expect(sameRow(row, rowOf('m1', { ...identity, _synced_at: 'later' }, desired, { ...observed, _edge_sync_id: 99 }))).toBe(true);
    // Anything the page shows: changed.
    expect(sameRow(row, rowOf('m1', identity, desired, { ...observed, reportedAt: '2026-12-07T00:00:10Z' }))).toBe(false);
    expect(sameRow(row, rowOf('m1', identity, { ...desired, speed: 901 }, observed))).toBe(false);
    expect(sameRow(row, rowOf('m1', identity, { ...desired, _sync_status: 'pending' }, observed))).toBe(false);
    expect(sameRow(row, rowOf('m1', identity, { ...desired, _edge_version: 4 }, observed))).toBe(false);
    expect(sameRow(row, rowOf('m1', identity, desired, undefined))).toBe(false);
    const { speed: _speed, ...noSpeed } = desired;
    expect(sameRow(row, rowOf('m1', identity, noSpeed, observed))).toBe(false);
  });
});
