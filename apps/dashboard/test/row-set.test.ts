// The page's rows of one Edge (web/row-set.ts): after any sequence of changed and removed rows,
// the counts kept change by change equal a count of every row, and the default view's order kept
// from draw to draw equals a fresh sort. Replay a failing property with CSE_DASHBOARD_SEED.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { STALE_AFTER_MS } from '../shared/machines.js';
import type { MachineDesired, MachineObserved } from '../shared/machines.js';
import { selectRows } from '../web/find.js';
import type { DocStatus, MachineRow, PageRow } from '../web/model.js';
import { differences, machineRow, pageRow } from '../web/model.js';
import { RowSet } from '../web/row-set.js';

const seed = process.env.CSE_DASHBOARD_SEED === undefined ? undefined : Number(process.env.CSE_DASHBOARD_SEED);
const NOW = Date.parse('2026-12-07T05:00:00Z');

const rowArb: fc.Arbitrary<MachineRow> = fc
  .record({
    n: fc.integer({ min: 0, max: 40 }),
    desiredState: fc.constantFrom('running' as const, 'stopped' as const),
    speed: fc.integer({ min: 0, max: 3 }).map((k) => k * 500),
    observed: fc.option(fc.record({ state: fc.constantFrom('running' as const, 'stopped' as const, 'failed' as const, 'starting' as const), speed: fc.integer({ min: 0, max: 3 }).map((k) => k * 500), ageMs: fc.integer({ min: 0, max: 2 * STALE_AFTER_MS }) }), { nil: undefined }),
    status: fc.constantFrom<DocStatus>('synced', 'pending', 'conflict'),
  })
  .map(({ n, desiredState, speed, observed, status }) => {
    const desired: MachineDesired = { state: desiredState, speed };
    const o: MachineObserved | undefined = observed === undefined ? undefined : ({ state: observed.state, speed: observed.speed, temperatureC: 30, reportedAt: new Date(NOW - observed.ageMs).toISOString() } as MachineObserved);
    return {
      id: `m${n}`,
      identity: { value: undefined, status: 'missing', edgeVersion: 0 },
      desired: { value: desired, status, edgeVersion: 1 },
      observed: o === undefined ? { value: undefined, status: 'missing', edgeVersion: 0 } : { value: o, status: 'synced', edgeVersion: 1 },
      conflict: undefined,
      differs: differences(desired, o),
    } as MachineRow;
  });

const stepArb = fc.record({ changed: fc.array(rowArb.map(pageRow), { maxLength: 12 }), removed: fc.array(fc.integer({ min: 0, max: 40 }).map((n) => `m${n}`), { maxLength: 4 }), draw: fc.boolean() });

describe('the rows kept change by change', () => {
  it('count and order as a pass over every row would', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 1, maxLength: 25 }), (steps) => {
        const set = new RowSet();
        const all = new Map<string, PageRow>();
        for (const { changed, removed, draw } of steps) {
          // (The worker sends one row per machine in a message; twice, the last one counts.)
          set.apply(changed, removed);
          for (const id of removed) all.delete(id);
          for (const r of changed) all.set(r.id, r);
          if (!draw) continue;
          const rows = [...all.values()];
          const machines = rows.map(machineRow);
          const count = (f: (r: MachineRow) => boolean): number => machines.filter(f).length;
          expect(set.counts(NOW)).toEqual({
            machines: rows.length,
            running: count((r) => r.observed.value?.state === 'running'),
            failed: count((r) => r.observed.value?.state === 'failed'),
            moving: count((r) => r.differs.length > 0 && r.observed.value?.state !== 'failed'),
            notAtDesired: count((r) => r.differs.length > 0),
            pending: count((r) => r.desired.status === 'pending'),
            conflicts: count((r) => r.desired.status === 'conflict'),
            loading: count((r) => r.observed.value === undefined),
            stale: count((r) => r.observed.value !== undefined && NOW - Date.parse(r.observed.value.reportedAt) > STALE_AFTER_MS),
          });
          expect(set.select('', 'all', NOW)).toEqual(selectRows(rows, '', 'all', NOW));
          expect(set.select('', 'failed', NOW)).toEqual(selectRows(rows, '', 'failed', NOW));
        }
      }),
      { seed, numRuns: 300 },
    );
  });
});
