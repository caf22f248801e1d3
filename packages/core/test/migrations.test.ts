import { Registry, TriangularStore, canServe, convertDoc, isCseError, schemaVersionOf } from '@cse/core';
import type { JsonObject, MigrationStep, WorkerTypeSchema } from '@cse/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { memoryStore, rejection } from './helpers.js';

const seed = process.env.CSE_TEST_SEED === undefined ? {} : { seed: Number(process.env.CSE_TEST_SEED) };

/**
 * The example used throughout: a pump at version 3.
 * 1 → 2: desired `speed_rpm` renamed `rpm` (lossless, has `down`); observed `temp_f` becomes
 *        `temp_c` rounded to 0.1 (loses precision: no `down`).
 * 2 → 3: desired gains `mode` (default "auto"); `down` drops it, lossless only for "auto", so none.
 */
const step12: MigrationStep = {
  up: {
    desired: ({ speed_rpm, ...rest }) => ({ ...rest, rpm: speed_rpm ?? 0 }),
    observed: ({ temp_f, ...rest }) => ({ ...rest, temp_c: Math.round(((Number(temp_f ?? 32) - 32) * 50) / 9) / 10 }),
  },
  down: { desired: ({ rpm, ...rest }) => ({ ...rest, speed_rpm: rpm ?? 0 }) },
};
const step23: MigrationStep = { up: { desired: (d) => ({ ...d, mode: d.mode ?? 'auto' }) } };
const V3: WorkerTypeSchema = { version: 3, migrations: [step12, step23] };

const v1Desired = fc.record({ id: fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/), speed_rpm: fc.integer({ min: 0, max: 5000 }), label: fc.string() });

describe('versioned worker types in the Registry', () => {
  it('registerWorkerType(type) stays version 1; { version, migrations } is versioned and listed for hello', () => {
    const r = new Registry();
    r.registerWorkerType('valve');
    r.registerWorkerType('pump', V3);
    expect(r.getSchemaVersion('valve')).toBe(1);
    expect(r.getWorkerSchema('pump').version).toBe(3);
    expect(r.getSchemaVersions()).toEqual({ pump: 3, valve: 1 });
    expect(r.getVersion('pump_desired')).toBe('v3');
  });

  it('a malformed schema is VALIDATION and registers nothing', () => {
    const r = new Registry();
    const bad: unknown[] = [
      { version: 0 },
      { version: 1.5 },
      { version: 3, migrations: [step12] },
      { version: 2, migrations: [{ up: { status: () => ({}) } }] },
      { version: 2, migrations: [{ up: { desired: 'no' } }] },
      { version: 2, migrations: [{ up: {}, down: null }] },
    ];
    for (const schema of bad) {
      let error: unknown;
      try {
        r.registerWorkerType('pump', schema as WorkerTypeSchema);
      } catch (e) {
        error = e;
      }
      expect(isCseError(error, 'VALIDATION'), JSON.stringify(schema)).toBe(true);
      expect(r.isRegistered('pump_desired')).toBe(false);
    }
  });
});

describe('convertDoc', () => {
  const schema = (() => {
    const r = new Registry();
    r.registerWorkerType('pump', V3);
    return r.getWorkerSchema('pump');
  })();

  it('upgrades through every step and stamps _schema; downgrades only where lossless', () => {
    const d1 = { id: 'p1', speed_rpm: 1200 };
    const d3 = convertDoc('pump', schema, 'desired', d1, 1, 3);
    expect(d3).toEqual({ id: 'p1', rpm: 1200, mode: 'auto', _schema: 3 });
    expect(schemaVersionOf(d3)).toBe(3);
    expect(convertDoc('pump', schema, 'desired', { id: 'p1', rpm: 5, _schema: 2 }, 2, 1)).toEqual({ id: 'p1', speed_rpm: 5 });
    // Identity has no migration: any direction is free.
    expect(convertDoc('pump', schema, 'identity', { id: 'p1', model: 'X' }, 3, 1)).toEqual({ id: 'p1', model: 'X' });
    for (const [role, from, to] of [
      ['desired', 3, 2],
      ['observed', 2, 1],
      ['desired', 1, 4],
    ] as const) {
      let error: unknown;
      try {
        convertDoc('pump', schema, role, { id: 'p1' }, from, to);
      } catch (e) {
        error = e;
      }
      expect(isCseError(error, 'UPDATE_REQUIRED'), `${role} ${from} → ${to}`).toBe(true);
    }
    expect(canServe(schema, 3, 3)).toBe(true);
    expect(canServe(schema, 3, 2)).toBe(false);
    expect(canServe(schema, 3, 1)).toBe(false);
  });

  it('a migration that throws or returns a non-object is VALIDATION naming the step; the id cannot move', () => {
    const r = new Registry();
    r.registerWorkerType('pump', {
      version: 2,
      migrations: [{ up: { desired: (d) => (d.bad === true ? (null as unknown as JsonObject) : { ...d, id: 'elsewhere' }), observed: () => { throw new Error('boom'); } } }],
    });
    const s = r.getWorkerSchema('pump');
    expect(convertDoc('pump', s, 'desired', { id: 'p1' }, 1, 2)).toEqual({ id: 'p1', _schema: 2 });
    expect(() => convertDoc('pump', s, 'desired', { id: 'p1', bad: true }, 1, 2)).toThrow(/1 → 2 \(up, desired\)/);
    expect(() => convertDoc('pump', s, 'observed', { id: 'p1' }, 1, 2)).toThrow(/boom/);
  });

  it('property: up of a valid v1 desired is a valid v2 desired, the input is untouched, and down(up(d)) equals d', () => {
    fc.assert(
      fc.property(v1Desired, (d) => {
        const before = structuredClone(d);
        const up = convertDoc('pump', schema, 'desired', d, 1, 2);
        expect(d).toEqual(before); // pure: the caller's document is not changed
        expect(up).toEqual({ id: d.id, label: d.label, rpm: d.speed_rpm, _schema: 2 });
        expect(convertDoc('pump', schema, 'desired', up, 2, 1)).toEqual(d);
        // Deterministic: the same input gives the same output.
        expect(convertDoc('pump', schema, 'desired', d, 1, 2)).toEqual(up);
      }),
      { numRuns: 300, ...seed },
    );
  });

  it('property: up is total on v1 observed documents and yields a number temp_c', () => {
    fc.assert(
      fc.property(fc.record({ id: fc.constant('p'), temp_f: fc.double({ min: -400, max: 2000, noNaN: true }) }), (d) => {
        const up = convertDoc('pump', schema, 'observed', d, 1, 3);
        expect(typeof up.temp_c).toBe('number');
        expect(Number.isFinite(up.temp_c)).toBe(true);
        expect(up).not.toHaveProperty('temp_f');
        expect(up._schema).toBe(3);
      }),
      { numRuns: 300, ...seed },
    );
  });
});

describe('TriangularStore with schema versions', () => {
  async function filledAtV1(n: number) {
    const store = memoryStore();
    const r1 = new Registry();
    r1.registerWorkerType('pump');
    const t1 = new TriangularStore(store, r1);
    for (let i = 0; i < n; i++) {
      const id = `p${String(i).padStart(3, '0')}`;
      await t1.saveIdentity('pump', id, { model: 'X' });
      await t1.saveDesired('pump', id, { speed_rpm: i });
      await t1.saveObserved('pump', id, { temp_f: 212 });
    }
    const r3 = new Registry();
    r3.registerWorkerType('pump', V3);
    return { store, t3: new TriangularStore(store, r3) };
  }

  it('an unversioned type writes no _schema (behaviour as before)', async () => {
    const { store } = await filledAtV1(1);
    expect(await store.get('pump_desired', 'p000')).not.toHaveProperty('_schema');
  });

  it('reads upgrade lazily (nothing written); saves are stamped with the current version', async () => {
    const { store, t3 } = await filledAtV1(2);
    const last = await store.lastSyncId();
    const d = await t3.loadDesired('pump', 'p001');
    expect(d).toMatchObject({ id: 'p001', rpm: 1, mode: 'auto', _schema: 3, _version: 1 });
    expect(d).not.toHaveProperty('speed_rpm');
    const snap = await t3.loadSnapshot('pump', 'p001');
    expect(snap.observed).toMatchObject({ temp_c: 100, _schema: 3 });
    expect(await store.lastSyncId()).toBe(last);
    const saved = await t3.saveDesired('pump', 'p001', { rpm: 9, mode: 'manual' });
    expect(saved.doc).toMatchObject({ rpm: 9, mode: 'manual', _schema: 3 });
  });

  it('a write from an older Frontend is upgraded before it is checked and applied; one that cannot be is refused typed, nothing written', async () => {
    const { store, t3 } = await filledAtV1(1);
    const applied = await t3.saveDesired('pump', 'p000', { speed_rpm: 700 }, { schemaVersion: 1, expectedVersion: 1, receipt: { id: 'w1' } });
    expect(applied.doc).toMatchObject({ rpm: 700, mode: 'auto', _schema: 3, _version: 2 });
    expect(applied.doc).not.toHaveProperty('speed_rpm');
    const last = await store.lastSyncId();
    const newer = await rejection(t3.saveDesired('pump', 'p000', { rpm: 1 }, { schemaVersion: 4 }));
    expect(newer.code).toBe('UPDATE_REQUIRED');
    const bad = await rejection(t3.saveDesired('pump', 'p000', { rpm: 1 }, { schemaVersion: 0 }));
    expect(bad.code).toBe('VALIDATION');
    expect(await store.lastSyncId()).toBe(last);
  });

  it('a write an up function rejects is VALIDATION and writes nothing', async () => {
    const store = memoryStore();
    const r = new Registry();
    r.registerWorkerType('pump', {
      version: 2,
      migrations: [{ up: { desired: (d) => { if (typeof d.speed_rpm !== 'number') throw new Error('speed_rpm must be a number'); const { speed_rpm, ...rest } = d; return { ...rest, rpm: speed_rpm }; } } }],
    });
    const t = new TriangularStore(store, r);
    const e = await rejection(t.saveDesired('pump', 'p', { speed_rpm: 'fast' }, { schemaVersion: 1 }));
    expect(e.code).toBe('VALIDATION');
    expect(await store.lastSyncId()).toBe(0);
  });

  it('migrate() rewrites every old document in atomic batches, moves its _sync_id, and a second run does nothing', async () => {
    const { store, t3 } = await filledAtV1(25);
    const before = await store.lastSyncId();
    const progress: number[] = [];
    const result = await t3.migrate('pump', { batchSize: 10, onBatch: (p) => progress.push(p.migrated) });
    expect(result).toEqual({ migrated: 75, batches: 9 });
    expect(progress.at(-1)).toBe(75);
    for (const c of ['pump_identity', 'pump_desired', 'pump_observed']) {
      const docs = await store.find(c);
      expect(docs).toHaveLength(25);
      for (const d of docs) {
        expect(d._sync_id).toBeGreaterThan(before);
        // Identity has no migration step, so it is restamped only.
        expect(schemaVersionOf(d)).toBe(3);
      }
    }
    expect((await store.get('pump_desired', 'p007'))?.rpm).toBe(7);
    expect(await t3.migrate()).toEqual({ migrated: 0, batches: 0 });
    const page = await store.changesSince(before);
    expect(page.changes.length).toBe(75);
  });
});
