// The simulated machines: each converges to any desired state, and the simulator resumes on its
// store (a second `npm start`) without touching identities or the operator's desired states.
// Replay a failing property with CSE_DASHBOARD_SEED (printed on failure).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { TriangularStore, convertDoc, openStore } from '@cse/core';
import { SqliteAdapter } from '@cse/adapter-sqlite';
import { HEARTBEAT_MS, MAX_SPEED, WORKER_TYPE, machineRegistry } from '../shared/machines.js';
import type { MachineDesired, MachineObserved, ObservedState } from '../shared/machines.js';
import { Simulator, machineId, step } from '../server/simulator.js';

const dir = mkdtempSync(join(tmpdir(), 'cse-simulator-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const seed = process.env.CSE_DASHBOARD_SEED === undefined ? undefined : Number(process.env.CSE_DASHBOARD_SEED);

describe('a simulated machine', () => {
  it('reaches any desired state from any healthy state within 30 reports', () => {
    const states: ObservedState[] = ['stopped', 'starting', 'running', 'stopping'];
    fc.assert(
      fc.property(
        fc.constantFrom(...states),
        fc.integer({ min: 0, max: MAX_SPEED }),
        fc.constantFrom<MachineDesired['state']>('running', 'stopped'),
        fc.integer({ min: 0, max: MAX_SPEED }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (state, speed, want, target, noise) => {
          const random = (): number => noise;
          const desired: MachineDesired = { state: want, speed: target };
          let o: MachineObserved = { state, speed: state === 'stopped' ? 0 : speed, temperatureC: 30, reportedAt: '' };
          for (let i = 0; i < 30 && !(o.state === want && o.speed === (want === 'running' ? target : 0)); i++) o = { ...step(o, desired, false, random), reportedAt: '' };
          expect(o.state).toBe(want);
          expect(o.speed).toBe(want === 'running' ? target : 0);
        },
      ),
      { seed },
    );
  });

  it('fails when told to, and a failed machine stays failed until the simulator recovers it', () => {
    const failed = step({ state: 'running', speed: 1200, temperatureC: 40, reportedAt: '' }, { state: 'running', speed: 1200 }, true, () => 0.5);
    expect(failed.state).toBe('failed');
    expect(failed.speed).toBe(0);
    expect(typeof failed.error).toBe('string');
    expect(step({ ...failed, reportedAt: '' }, { state: 'running', speed: 1200 }, false, () => 0.5).state).toBe('failed');
  });
});

describe('the machine schema migration (1 → 2)', () => {
  it('is pure and total: up of any version-1 observed report is a version-2 report, the input untouched, and down(up(d)) equals d', () => {
    const schema = machineRegistry(2).getWorkerSchema(WORKER_TYPE);
    const v1 = fc.record(
      {
        id: fc.stringMatching(/^m\d{2,5}$/),
        state: fc.constantFrom<ObservedState>('stopped', 'starting', 'running', 'stopping', 'failed'),
        speed: fc.integer({ min: 0, max: MAX_SPEED }),
        temperature: fc.integer({ min: -40, max: 150 }),
        reportedAt: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
        error: fc.string(),
      },
      { requiredKeys: ['id', 'state', 'speed', 'temperature', 'reportedAt'] },
    );
    fc.assert(
      fc.property(v1, (doc) => {
        const before = structuredClone(doc);
        const up = convertDoc(WORKER_TYPE, schema, 'observed', doc, 1, 2);
        expect(doc).toEqual(before);
        expect(up).not.toHaveProperty('temperature');
        expect(up).toMatchObject({ temperatureC: doc.temperature, _schema: 2, id: doc.id, state: doc.state, speed: doc.speed });
        expect(convertDoc(WORKER_TYPE, schema, 'observed', up, 2, 1)).toEqual(doc);
        expect(convertDoc(WORKER_TYPE, schema, 'observed', doc, 1, 2)).toEqual(up);
      }),
      { seed },
    );
  });
});

describe('the simulator on SQLite', () => {
  it('resumes on its store: identities written once, the desired states kept, machines converge, unchanged reports not saved until a heartbeat is due', async () => {
    const path = join(dir, 'edge.db');
    const open = () => openStore(new SqliteAdapter({ path }));
    let store = open();
    let triangular = new TriangularStore(store, machineRegistry());
    let now = Date.now();
    const first = new Simulator({ store, triangular, workers: 5, failRate: 0, random: () => 0.5, clock: () => new Date(now) });
    await first.init();
    await triangular.saveDesired(WORKER_TYPE, 'm02', { state: 'stopped', speed: 100 }); // the operator's edit
    expect(await first.tick()).toBeGreaterThan(0);
    await store.close();

    store = open();
    triangular = new TriangularStore(store, machineRegistry());
    const head = await store.lastSyncId();
    const again = new Simulator({ store, triangular, workers: 5, failRate: 0, random: () => 0.5, clock: () => new Date(now) });
    await again.init();
    expect(await store.lastSyncId(), 'a second init writes nothing').toBe(head);
    expect((await store.find(`${WORKER_TYPE}_identity`)).map((d) => [d.id, d._version])).toEqual([0, 1, 2, 3, 4].map((i) => [machineId(i), 1]));
    expect(await triangular.loadDesired(WORKER_TYPE, 'm02')).toMatchObject({ state: 'stopped', speed: 100 });
    // Every machine gets where it was asked to be.
    for (let i = 0; i < 40; i++) await again.tick();
    for (const d of await store.find(`${WORKER_TYPE}_desired`)) {
      const o = await triangular.loadObserved(WORKER_TYPE, d.id);
      expect([d.id, o?.state, o?.speed]).toEqual([d.id, d.state, d.state === 'running' ? d.speed : 0]);
    }
    const settled = await store.lastSyncId();
    expect(await again.tick(), 'nothing changed: nothing saved').toBe(0);
    expect(await store.lastSyncId()).toBe(settled);
    // A heartbeat: once HEARTBEAT_MS passed without a change, each machine reports all the same.
    now += HEARTBEAT_MS;
    expect(await again.tick(), 'a heartbeat of every machine').toBe(5);
    expect((await triangular.loadObserved(WORKER_TYPE, 'm01'))?.reportedAt).toBe(new Date(now).toISOString());
    expect(await again.tick(), 'no second heartbeat before HEARTBEAT_MS').toBe(0);
    await store.close();
  });

  it("saves a tick's reports side by side (one group commit on SQLite, not one transaction each: each waits for the file's write lock, blocking the Edge's thread while another process writes)", async () => {
    /** The real adapter, counting the commits it was given and not answered yet. */
    class Counting extends SqliteAdapter {
      inFlight = 0;
      maxInFlight = 0;
      override async commit(...a: Parameters<SqliteAdapter['commit']>): ReturnType<SqliteAdapter['commit']> {
        this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
        try {
          return await super.commit(...a);
        } finally {
          this.inFlight--;
        }
      }
    }
    const adapter = new Counting({ path: join(dir, 'grouped.db') });
    const store = openStore(adapter);
    const triangular = new TriangularStore(store, machineRegistry());
    let now = Date.now();
    const sim = new Simulator({ store, triangular, workers: 300, failRate: 0, random: () => 0.5, clock: () => new Date(now) });
    await sim.init();
    adapter.maxInFlight = 0;
    now += HEARTBEAT_MS;
    const before = await store.lastSyncId();
    expect(await sim.tick(), 'every machine reports (a heartbeat at least)').toBe(300);
    expect(adapter.maxInFlight, 'the reports were committed together').toBe(300);
    expect((await store.lastSyncId()) - before).toBe(300);
    for (let i = 0; i < 300; i++) expect((await triangular.loadObserved(WORKER_TYPE, machineId(i)))?.reportedAt).toBe(new Date(now).toISOString());
    await store.close();
  });

  it('an unplugged machine sends no report, not even a heartbeat (the dashboard marks it stale); plugged back, it reports again', async () => {
    const store = openStore(new SqliteAdapter({ path: join(dir, 'unplugged.db') }));
    const triangular = new TriangularStore(store, machineRegistry());
    let now = Date.now();
    let off = new Set(['m02']);
    const sim = new Simulator({ store, triangular, workers: 3, failRate: 0, random: () => 0.5, clock: () => new Date(now), unplugged: () => off });
    await sim.init();
    const before = (await triangular.loadObserved(WORKER_TYPE, 'm02'))?.reportedAt;
    for (let i = 0; i < 5; i++) {
      now += HEARTBEAT_MS;
      expect(await sim.tick(), 'the two others report').toBe(2);
    }
    expect((await triangular.loadObserved(WORKER_TYPE, 'm02'))?.reportedAt, 'm02 silent').toBe(before);
    off = new Set();
    now += 1;
    await sim.tick();
    expect((await triangular.loadObserved(WORKER_TYPE, 'm02'))?.reportedAt).toBe(new Date(now).toISOString());
    await store.close();
  });

  it('changes a desired state at the HMI now and then, from the version it read (a dashboard edit based on the older one meets a conflict)', async () => {
    const store = openStore(new SqliteAdapter({ path: join(dir, 'hmi.db') }));
    const triangular = new TriangularStore(store, machineRegistry());
    const sim = new Simulator({ store, triangular, workers: 3, failRate: 0, hmiRate: 1, random: () => 0.25 });
    await sim.init();
    const before = await store.find(`${WORKER_TYPE}_desired`);
    await sim.tick();
    const after = await store.find(`${WORKER_TYPE}_desired`);
    expect(after.map((d) => [d.id, d._version, d.speed])).toEqual(before.map((d) => [d.id, (d._version as number) + 1, Math.max(100, (d.speed as number) - 100)]));
    await store.close();
  });

  it('runs at schema version 1 (`--schema 1`), and the next release migrates its documents to version 2 and goes on from them; a version-1 dashboard is still served (lossless down)', async () => {
    const path = join(dir, 'schema.db');
    let store = openStore(new SqliteAdapter({ path }));
    let triangular = new TriangularStore(store, machineRegistry(1));
    const old = new Simulator({ store, triangular, schema: 1, workers: 4, failRate: 0, random: () => 0.5 });
    await old.init();
    for (let i = 0; i < 5; i++) await old.tick();
    const v1 = await store.find(`${WORKER_TYPE}_observed`);
    expect(v1.every((d) => typeof d.temperature === 'number' && d.temperatureC === undefined && d._schema === undefined)).toBe(true);
    await store.close();

    store = openStore(new SqliteAdapter({ path }));
    triangular = new TriangularStore(store, machineRegistry());
    // Read lazily before the migration: already in version 2.
    expect(await triangular.loadObserved(WORKER_TYPE, 'm01')).toMatchObject({ temperatureC: v1[0]?.temperature, _schema: 2 });
    // Every document of the type is stamped with version 2 (identity, desired, observed: 4 machines each).
    expect(await triangular.migrate(WORKER_TYPE)).toEqual({ migrated: 12, batches: 3 });
    const v2 = await store.find(`${WORKER_TYPE}_observed`);
    expect(v2.map((d) => [d.id, d.temperatureC, d._schema, 'temperature' in d])).toEqual(v1.map((d) => [d.id, d.temperature, 2, false]));
    const sim = new Simulator({ store, triangular, workers: 4, failRate: 0, random: () => 0.5 });
    await sim.init();
    for (let i = 0; i < 40; i++) await sim.tick();
    for (const d of await store.find(`${WORKER_TYPE}_desired`)) {
      const o = await store.get(`${WORKER_TYPE}_observed`, d.id);
      expect([d.id, o?.state, o?.speed, typeof o?.temperatureC, o?._schema]).toEqual([d.id, d.state, d.state === 'running' ? d.speed : 0, 'number', 2]);
    }
    // A dashboard still at version 1 reads them as it knows them.
    const schema = machineRegistry().getWorkerSchema(WORKER_TYPE);
    const doc = (await store.get(`${WORKER_TYPE}_observed`, 'm01')) as Record<string, unknown>;
    const { _schema: _, ...fields } = convertDoc(WORKER_TYPE, schema, 'observed', { id: 'm01', temperatureC: doc.temperatureC as number }, 2, 1);
    expect(fields).toEqual({ id: 'm01', temperature: doc.temperatureC });
    await store.close();
  });
});
