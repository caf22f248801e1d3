// What the operator's search, filter and order do over the page's rows (web/find.ts).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { STALE_AFTER_MS } from '../shared/machines.js';
import type { MachineObserved } from '../shared/machines.js';
import { machineId, machineIdentity } from '../server/simulator.js';
import { compareNatural, isStale, selectRows } from '../web/find.js';
import type { MachineRow, PageRow } from '../web/model.js';
import { differences, machineRow, pageRow } from '../web/model.js';

const NOW = Date.parse('2026-12-07T05:00:00Z');

function machine(i: number, o: Partial<MachineObserved> & { ageMs?: number } = {}, desiredStatus: 'synced' | 'pending' | 'conflict' = 'synced'): MachineRow {
  const desired = { state: 'running' as const, speed: 1000 };
  const observed: MachineObserved = { state: o.state ?? 'running', speed: o.speed ?? 1000, temperatureC: 30, reportedAt: new Date(NOW - (o.ageMs ?? 1000)).toISOString() };
  return {
    id: machineId(i),
    identity: { value: machineIdentity(i), status: 'synced', edgeVersion: 1 },
    desired: { value: desired, status: desiredStatus, edgeVersion: 1 },
    observed: { value: observed, status: 'synced', edgeVersion: 1 },
    conflict: undefined,
    differs: differences(desired, observed),
  };
}

/** The page's row of machine `i` (the find functions work on what the page holds). */
const row = (...args: Parameters<typeof machine>): PageRow => pageRow(machine(...args));

describe('finding machines', () => {
  it('orders naturally (m2 before m10) and pins failed and conflicted machines to the top', () => {
    expect(['m10', 'm2', 'm1', 'm100'].sort(compareNatural)).toEqual(['m1', 'm2', 'm10', 'm100']);
    const rows = [row(9), row(1), row(10, { state: 'failed', speed: 0 }), row(0), row(99, {}, 'conflict')];
    expect(selectRows(rows, '', 'all', NOW).map((r) => r.id)).toEqual(['m11', 'm100', 'm01', 'm02', 'm10']);
  });

  it('searches name, serial, line and id, case-insensitive', () => {
    const rows = Array.from({ length: 40 }, (_, i) => row(i));
    expect(selectRows(rows, machineIdentity(7).serial.toLowerCase(), 'all', NOW).map((r) => r.id)).toEqual(['m08']);
    expect(selectRows(rows, '  PUMP   07 ', 'all', NOW).map((r) => r.id)).toEqual(['m07']);
    expect(selectRows(rows, 'line c', 'all', NOW).map((r) => r.id)).toEqual(rows.filter((r) => machineRow(r).identity.value?.line === 'Line C').map((r) => r.id));
    expect(selectRows(rows, 'm3', 'all', NOW).map((r) => r.id)).toEqual(['m30', 'm31', 'm32', 'm33', 'm34', 'm35', 'm36', 'm37', 'm38', 'm39']);
  });

  it('filters by status; a machine is stale after three missed heartbeats', () => {
    const rows = [row(0), row(1, { speed: 500 }), row(2, { state: 'failed', speed: 0 }), row(3, {}, 'pending'), row(4, {}, 'conflict'), row(5, { ageMs: STALE_AFTER_MS + 1 })];
    const ids = (f: Parameters<typeof selectRows>[2]): string[] => selectRows(rows, '', f, NOW).map((r) => r.id);
    expect(ids('failed')).toEqual(['m03']);
    expect(ids('not-at-desired')).toEqual(['m03', 'm02']);
    expect(ids('pending')).toEqual(['m04']);
    expect(ids('conflict')).toEqual(['m05']);
    expect(ids('stale')).toEqual(['m06']);
    expect(isStale(row(0, { ageMs: STALE_AFTER_MS }), NOW)).toBe(false);
  });

  it('keeps natural order over draws whose machines come and go', () => {
    const seed = process.env.CSE_DASHBOARD_SEED === undefined ? undefined : Number(process.env.CSE_DASHBOARD_SEED);
    const id = fc.oneof(fc.integer({ min: 0, max: 3000 }).map((n) => `m${n}`), fc.stringMatching(/^[a-z]{1,3}[0-9]{0,4}$/));
    fc.assert(
      fc.property(fc.array(fc.uniqueArray(id, { maxLength: 60 }), { minLength: 1, maxLength: 6 }), (draws) => {
        for (const ids of draws) {
          const rows = ids.map((x, i) => pageRow({ ...machine(i), id: x }));
          expect(selectRows(rows, '', 'all', NOW).map((r) => r.id)).toEqual([...ids].sort(compareNatural));
        }
      }),
      { seed, numRuns: 200 },
    );
  });

  it('orders ids such as m123 as the collator does, without it', () => {
    const seed = process.env.CSE_DASHBOARD_SEED === undefined ? undefined : Number(process.env.CSE_DASHBOARD_SEED);
    const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });
    const viaCollator = (a: string, b: string): number => collator.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0);
    const simple = fc.stringMatching(/^[a-c]{1,3}0{0,2}[0-9]{1,4}$/);
    const any = fc.oneof(simple, simple, fc.string({ maxLength: 6 }), fc.stringMatching(/^[A-Za-z0-9_-]{1,6}$/));
    fc.assert(
      fc.property(any, any, (a, b) => {
        expect(Math.sign(compareNatural(a, b)), `${a} vs ${b}`).toBe(Math.sign(viaCollator(a, b)));
      }),
      { seed, numRuns: 3000 },
    );
  });
});
