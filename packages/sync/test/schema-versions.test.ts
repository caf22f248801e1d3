/**
 * S12, mixed releases over real EdgeSync/FrontendSync sessions (in-process transport): a Frontend
 * older than its Edge is served in its own version where a lossless path exists and its writes
 * are upgraded; one the Edge cannot serve gets UPDATE_REQUIRED for that worker type only (the
 * others keep syncing, its writes wait); after the Edge is upgraded and migrated they resume,
 * each write applied once.
 */
import { MemoryAdapter, Registry, TriangularStore, openStore } from '@cse/core';
import type { MigrationStep, Store, WorkerTypeSchema } from '@cse/core';
import { EdgeSync } from '@cse/sync';
import { afterEach, describe, expect, it } from 'vitest';
import { frontendOn, pairConnector, until } from './helpers.js';

const rename: MigrationStep = {
  up: { desired: ({ speed_rpm, ...rest }) => ({ ...rest, rpm: speed_rpm ?? 0 }) },
  down: { desired: ({ rpm, ...rest }) => ({ ...rest, speed_rpm: rpm ?? 0 }) },
};
const lossy: MigrationStep = { up: { observed: ({ temp_f, ...rest }) => ({ ...rest, temp_c: Math.round(((Number(temp_f ?? 32) - 32) * 5) / 9) }) } };

function reg(pump?: WorkerTypeSchema): Registry {
  const r = new Registry();
  r.registerWorkerType('pump', pump);
  r.registerWorkerType('valve');
  return r;
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

function edge(store: Store, r: Registry): { sync: EdgeSync; tri: TriangularStore } {
  const tri = new TriangularStore(store, r);
  const sync = new EdgeSync({ store, registry: r, triangular: tri, heartbeatMs: 1000 });
  closers.push(() => sync.close());
  return { sync, tri };
}

describe('schema versions between Edge and Frontend (S12)', () => {
  it('an older Frontend is served converted down, and its writes are upgraded before they are applied', async () => {
    const store = openStore(new MemoryAdapter());
    const e = edge(store, reg({ version: 2, migrations: [rename] }));
    await e.tri.saveDesired('pump', 'p1', { speed_rpm: 100 }, { schemaVersion: 1 });
    await e.tri.saveDesired('pump', 'p2', { rpm: 200 });
    const feStore = openStore(new MemoryAdapter());
    const fe = frontendOn(feStore, pairConnector(() => e.sync), { registry: reg() });
    closers.push(() => fe.stop());
    await fe.start();
    await until(async () => (await feStore.get('pump_desired', 'p2'))?.speed_rpm === 200, 'the v1 replica to get p2 in its shape');
    expect(fe.updateRequired).toEqual([]);
    const p1 = await feStore.get('pump_desired', 'p1');
    expect(p1).toMatchObject({ speed_rpm: 100 });
    expect(p1).not.toHaveProperty('rpm');
    expect(p1).not.toHaveProperty('_schema');
    const w = await fe.saveDesired('pump', 'p1', { speed_rpm: 150 });
    expect((await w.result).kind).toBe('applied');
    expect(await e.tri.loadDesired('pump', 'p1')).toMatchObject({ rpm: 150, _schema: 2 });
    const stored = await store.get('pump_desired', 'p1');
    expect(stored).not.toHaveProperty('speed_rpm');
    await until(async () => (await feStore.get('pump_desired', 'p1'))?._edge_version === 2, 'the applied write to come back');
    expect(await feStore.get('pump_desired', 'p1')).toMatchObject({ speed_rpm: 150 });
  });

  it('a newer Frontend gets UPDATE_REQUIRED for that worker type only; after the Edge is upgraded and migrated its waiting write is applied once', async () => {
    const store = openStore(new MemoryAdapter());
    let current = edge(store, reg());
    await current.tri.saveDesired('pump', 'p1', { speed_rpm: 100 });
    await current.tri.saveObserved('valve', 'v1', { open: true });
    const feStore = openStore(new MemoryAdapter());
    const fe = frontendOn(feStore, pairConnector(() => current.sync), { registry: reg({ version: 2, migrations: [rename] }) });
    closers.push(() => fe.stop());
    await fe.start();
    await until(async () => (await feStore.get('valve_observed', 'v1'))?.open === true, 'valve to keep syncing');
    await until(() => fe.updateRequired.length > 0, 'UPDATE_REQUIRED');
    expect(fe.updateRequired).toEqual(['pump']);
    expect(await feStore.get('pump_desired', 'p1')).toBeUndefined();
    const w = await fe.saveDesired('pump', 'p9', { rpm: 900 });
    // Valve writes go through meanwhile; the pump write waits.
    expect((await (await fe.saveDesired('valve', 'v1', { open: false })).result).kind).toBe('applied');
    expect(fe.pending).toBe(1);
    expect(await store.get('pump_desired', 'p9')).toBeUndefined();

    // The Edge is upgraded: a new release with pump at version 2, migrated, then served.
    const old = current;
    current = edge(store, reg({ version: 2, migrations: [rename] }));
    expect(await current.tri.migrate()).toMatchObject({ migrated: 1 });
    await old.sync.close();
    expect((await w.result).kind).toBe('applied');
    await until(() => fe.updateRequired.length === 0 && fe.pending === 0, 'the session to be served fully');
    await until(async () => (await feStore.get('pump_desired', 'p1'))?.rpm === 100, 'pump to sync in version 2');
    expect(await store.get('pump_desired', 'p9')).toMatchObject({ rpm: 900, _schema: 2, _version: 1 });
    expect(await feStore.get('pump_desired', 'p1')).toMatchObject({ _schema: 2 });
  });

  it('without a lossless down path the older Frontend gets UPDATE_REQUIRED; a peer without versions is left out of that type and its writes refused typed', async () => {
    const store = openStore(new MemoryAdapter());
    const e = edge(store, reg({ version: 2, migrations: [lossy] }));
    await e.tri.saveObserved('pump', 'p1', { temp_c: 40 });
    await e.tri.saveObserved('valve', 'v1', { open: true });
    // This Frontend has pump at version 1 too, but says so (another type of it is versioned).
    const r = new Registry();
    r.registerWorkerType('pump');
    r.registerWorkerType('valve', { version: 2, migrations: [{ up: {} }] });
    const e2 = edge(openStore(new MemoryAdapter()), (() => {
      const x = new Registry();
      x.registerWorkerType('pump', { version: 2, migrations: [lossy] });
      x.registerWorkerType('valve', { version: 2, migrations: [{ up: {} }] });
      return x;
    })());
    const feA = frontendOn(openStore(new MemoryAdapter()), pairConnector(() => e2.sync), { registry: r });
    closers.push(() => feA.stop());
    await feA.start();
    await until(() => feA.updateRequired.length > 0, 'UPDATE_REQUIRED for the announced peer');
    expect(feA.updateRequired).toEqual(['pump']);

    // A peer from before versions: every type at version 1, no `schemas` in its hello.
    const feStore = openStore(new MemoryAdapter());
    const feB = frontendOn(feStore, pairConnector(() => e.sync), { registry: reg() });
    closers.push(() => feB.stop());
    await feB.start();
    await until(async () => (await feStore.get('valve_observed', 'v1'))?.open === true, 'valve to sync');
    expect(await feStore.get('pump_observed', 'p1')).toBeUndefined();
    const refused = await (await feB.saveDesired('pump', 'p1', { speed_rpm: 1 })).result;
    expect(refused).toMatchObject({ kind: 'refused', code: 'VALIDATION' });
    expect((refused as { message: string }).message).toMatch(/update required/);
    expect(await store.get('pump_desired', 'p1')).toBeUndefined();
  });

  it('an Edge of an older release never sends a document a newer release stored: the session ends UPDATE_REQUIRED and an Edge of that release serves it converted', async () => {
    // The defect the S12 property found: an Edge still serving while a newer release migrates or
    // writes its store sent those documents as stored (its registry has the type at version 1), so
    // a version-1 replica held version 2's shape at the right `_edge_version`, never sent again.
    const store = openStore(new MemoryAdapter());
    const old = edge(store, reg());
    await old.tri.saveDesired('pump', 'p1', { speed_rpm: 100 });
    await old.tri.saveDesired('valve', 'v1', { open: false });
    let current: EdgeSync = old.sync;
    const feStore = openStore(new MemoryAdapter());
    const fe = frontendOn(feStore, pairConnector(() => current), { registry: reg() });
    closers.push(() => fe.stop());
    await fe.start();
    await until(async () => (await feStore.get('pump_desired', 'p1'))?.speed_rpm === 100, 'p1 in the replica');
    const served = old.sync.stats.sessions;

    // The next release writes and migrates the same store while the old Edge still serves.
    const next = reg({ version: 2, migrations: [rename] });
    const newer = new TriangularStore(store, next);
    await newer.saveDesired('pump', 'p2', { rpm: 200 });
    await newer.migrate('pump');
    expect(await store.get('pump_desired', 'p1')).toMatchObject({ rpm: 100, _schema: 2 });
    await old.tri.saveDesired('valve', 'v1', { open: true });
    // The old Edge ends its sessions rather than send them; the Frontend keeps retrying.
    await until(async () => old.sync.stats.sessions > served + 1 || (await feStore.get('pump_desired', 'p2')) !== undefined, 'the Frontend to be turned away and to retry');
    for (const id of ['p1', 'p2']) expect((await feStore.get('pump_desired', id)) ?? {}).not.toHaveProperty('rpm');
    expect(await feStore.get('pump_desired', 'p1')).toMatchObject({ speed_rpm: 100 });

    // An Edge of the new release serves the same store: the documents come converted down.
    current = edge(store, next).sync;
    await old.sync.close();
    fe.reconnect();
    await until(async () => (await feStore.get('pump_desired', 'p2'))?.speed_rpm === 200 && (await feStore.get('valve_desired', 'v1'))?.open === true, 'p2 and v1 from the new Edge');
    for (const id of ['p1', 'p2']) {
      const local = await feStore.get('pump_desired', id);
      const stored = await store.get('pump_desired', id);
      expect(local).not.toHaveProperty('rpm');
      expect(local?._edge_version).toBe(stored?._version);
    }
    expect(await feStore.get('pump_desired', 'p1')).toMatchObject({ speed_rpm: 100 });
  });
});
