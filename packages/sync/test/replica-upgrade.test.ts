/**
 * S12 on the Frontend: a replica written by an older release, opened by a newer one, is upgraded
 * in place (documents, pending writes, shadows; one commit; cursors kept) before it connects;
 * where a stored document cannot be upgraded, only that worker type is resynced and its pending
 * writes are kept; a downgraded release refuses the newer pending writes typed, visibly. On real
 * backends: a SQLite file and a LevelDB directory, reopened as a reload would.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LevelAdapter } from '@cse/adapter-level';
import { SqliteAdapter } from '@cse/adapter-sqlite';
import { MemoryAdapter, Registry, Replica, TriangularStore, openStore } from '@cse/core';
import type { MigrationStep, Store, WorkerTypeSchema } from '@cse/core';
import { EdgeSync, OUTBOX_COLLECTION, REPLICA_COLLECTION } from '@cse/sync';
import type { FrontendSync } from '@cse/sync';
import { afterEach, describe, expect, it } from 'vitest';
import { frontendOn, pairConnector, until } from './helpers.js';

/** 1 → 2: desired.speed_rpm renamed rpm (lossless); observed temp_f becomes temp_c (lossy, throws on a non-number). */
const step: MigrationStep = {
  up: {
    desired: ({ speed_rpm, ...rest }) => ({ ...rest, rpm: speed_rpm ?? 0 }),
    observed: ({ temp_f, ...rest }) => {
      if (temp_f !== undefined && typeof temp_f !== 'number') throw new Error('temp_f is not a number');
      return { ...rest, temp_c: Math.round((((temp_f as number | undefined) ?? 32) - 32) * 5 / 9) };
    },
  },
};

function reg(pump?: WorkerTypeSchema): Registry {
  const r = new Registry();
  r.registerWorkerType('pump', pump);
  r.registerWorkerType('valve');
  return r;
}
const v1 = (): Registry => reg();
const v2 = (): Registry => reg({ version: 2, migrations: [step] });

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const backends: { name: string; open: (dir: string) => Store }[] = [
  { name: 'SQLite', open: (dir) => openStore(new SqliteAdapter({ path: join(dir, 'replica.sqlite') })) },
  { name: 'LevelDB', open: (dir) => openStore(new LevelAdapter({ location: join(dir, 'replica-level') })) },
];

function edgeAt(store: Store, r: Registry): { sync: EdgeSync; tri: TriangularStore } {
  const tri = new TriangularStore(store, r);
  const sync = new EdgeSync({ store, registry: r, triangular: tri, heartbeatMs: 1000 });
  cleanups.push(() => sync.close());
  return { sync, tri };
}

/** A connector that holds every connection attempt until `open()`. */
function gated(edge: () => EdgeSync): { connect: ReturnType<typeof pairConnector>; open: () => void } {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const inner = pairConnector(edge);
  return {
    connect: async (...args) => {
      await gate;
      return inner(...args);
    },
    open: () => release(),
  };
}

async function stateOf(store: Store): Promise<Record<string, unknown>> {
  const [r] = await new Replica(store).getMany([{ collection: REPLICA_COLLECTION, id: 'state' }]);
  return r?.doc as Record<string, unknown>;
}

async function outboxOf(store: Store): Promise<Record<string, unknown>[]> {
  return (await new Replica(store).scan(OUTBOX_COLLECTION)).filter((r) => !r.deleted).map((r) => r.doc as Record<string, unknown>);
}

describe.each(backends)('Frontend replica upgrade in place on $name (S12)', ({ open }) => {
  function dir(): string {
    const d = mkdtempSync(join(tmpdir(), 'cse-replica-upgrade-'));
    cleanups.push(() => rmSync(d, { recursive: true, force: true }));
    return d;
  }

  /** A v1 Frontend that syncs everything from `edge`, then goes offline with pending writes; its store closed. */
  async function oldRelease(d: string, edge: () => EdgeSync, writes: (fe: FrontendSync) => Promise<void>, registry = v1()): Promise<Record<string, number>> {
    const store = open(d);
    const fe = frontendOn(store, pairConnector(edge), { registry });
    await fe.start();
    await fe.settled();
    await fe.stop();
    await writes(fe);
    const cursors = { ...fe.cursors };
    await store.close();
    return cursors;
  }

  it('a newer release converts the stored documents and the pending writes in one commit, keeps the cursors, and its writes are applied once', async () => {
    const d = dir();
    const edgeStore = openStore(new MemoryAdapter());
    let e = edgeAt(edgeStore, v1());
    await e.tri.saveDesired('pump', 'p1', { speed_rpm: 100 });
    await e.tri.saveDesired('pump', 'p3', { speed_rpm: 300 });
    await e.tri.saveObserved('pump', 'p1', { temp_f: 212 });
    await e.tri.saveObserved('valve', 'v1', { open: true });
    const writeIds: string[] = [];
    const cursors = await oldRelease(d, () => e.sync, async (fe) => {
      writeIds.push((await fe.saveDesired('pump', 'p1', { speed_rpm: 150 })).writeId);
      writeIds.push((await fe.saveDesired('pump', 'p2', { speed_rpm: 5 })).writeId);
    });
    // The Edge moves to the new release too (served lazily: p3 is not migrated).
    await e.sync.close();
    e = edgeAt(edgeStore, v2());

    const store = open(d);
    cleanups.push(() => store.close());
    const gate = gated(() => e.sync);
    const fe = frontendOn(store, gate.connect, { registry: v2() });
    cleanups.push(() => fe.stop(), gate.open);
    await fe.start(); // loads (and upgrades) before its first connection, which waits at the gate
    expect(fe.schemaUpgrades).toEqual([{ workerType: 'pump', from: 1, to: 2, mode: 'converted', documents: 2, writes: 2, refused: 0 }]);
    expect(fe.cursors).toEqual(cursors);
    expect(await stateOf(store)).toMatchObject({ schemas: { pump: 2, valve: 1 }, cursors });
    expect(await store.get('pump_desired', 'p3')).toMatchObject({ rpm: 300, _schema: 2, _sync_status: 'synced' });
    expect(await store.get('pump_desired', 'p3')).not.toHaveProperty('speed_rpm');
    expect(await store.get('pump_desired', 'p1')).toMatchObject({ rpm: 150, _schema: 2, _sync_status: 'pending', _edge_version: 1 });
    expect(await store.get('pump_observed', 'p1')).toMatchObject({ temp_c: 100, _schema: 2 });
    expect(await store.get('valve_observed', 'v1')).toMatchObject({ open: true });
    const outbox = await outboxOf(store);
    expect(outbox.map((o) => (o.body as Record<string, unknown>).rpm).sort()).toEqual([150, 5]);

    gate.open();
    for (const w of writeIds) expect(await fe.outcome(w)).toMatchObject({ kind: 'applied', duplicate: false });
    await fe.settled();
    expect(await e.tri.loadDesired('pump', 'p1')).toMatchObject({ rpm: 150, _schema: 2, _version: 2 });
    expect(await e.tri.loadDesired('pump', 'p2')).toMatchObject({ rpm: 5, _schema: 2, _version: 1 });
    await until(async () => (await store.get('pump_desired', 'p1'))?._sync_status === 'synced', 'p1 to settle');
    expect(await store.get('pump_desired', 'p1')).toMatchObject({ rpm: 150, _edge_version: 2 });

    // Opened again by the same release: nothing more to do.
    await fe.stop();
    const again = frontendOn(store, pairConnector(() => e.sync), { registry: v2() });
    await again.start();
    expect(again.schemaUpgrades).toEqual([]);
    await again.stop();
  });

  it('a stored document the new release cannot upgrade: only that worker type is resynced, its pending writes kept and applied once', async () => {
    const d = dir();
    const edgeStore = openStore(new MemoryAdapter());
    let e = edgeAt(edgeStore, v1());
    await e.tri.saveObserved('pump', 'p1', { temp_f: 'broken sensor' });
    await e.tri.saveDesired('pump', 'p1', { speed_rpm: 100 });
    await e.tri.saveObserved('valve', 'v1', { open: true });
    const cursors = await oldRelease(d, () => e.sync, async (fe) => {
      await fe.saveDesired('pump', 'p1', { speed_rpm: 120 });
    });
    // Meanwhile the Edge fixed the reading and moved to the new release (documents upgraded as they are read).
    await e.tri.saveObserved('pump', 'p1', { temp_f: 50 });
    await e.sync.close();
    e = edgeAt(edgeStore, v2());

    const store = open(d);
    cleanups.push(() => store.close());
    const gate = gated(() => e.sync);
    const fe = frontendOn(store, gate.connect, { registry: v2() });
    cleanups.push(() => fe.stop(), gate.open);
    await fe.start();
    expect(fe.schemaUpgrades).toEqual([{ workerType: 'pump', from: 1, to: 2, mode: 'resynced', documents: 0, writes: 1, refused: 0 }]);
    // Valve keeps its cursors; pump's go back to 0; the pending write stays, converted.
    expect(fe.cursors).toEqual({ valve_desired: cursors.valve_desired, valve_identity: cursors.valve_identity, valve_observed: cursors.valve_observed });
    expect(await store.get('pump_observed', 'p1')).toBeUndefined();
    expect(await store.get('pump_desired', 'p1')).toMatchObject({ rpm: 120, _schema: 2, _sync_status: 'pending' });
    expect(fe.pending).toBe(1);
    const [entry] = (await outboxOf(store)) as { w: string; body: unknown }[];
    expect(entry?.body).toEqual({ id: 'p1', rpm: 120, _schema: 2 });

    gate.open();
    const outcome = await fe.outcome(entry?.w as string);
    expect(outcome).toMatchObject({ kind: 'applied', duplicate: false, version: 2 });
    await fe.settled();
    await until(async () => (await store.get('pump_observed', 'p1'))?.temp_c === 10, 'pump to resync');
    expect(await e.tri.loadDesired('pump', 'p1')).toMatchObject({ rpm: 120, _schema: 2, _version: 2 });
    expect(await store.get('pump_desired', 'p1')).toMatchObject({ rpm: 120, _sync_status: 'synced', _edge_version: 2 });
    expect(await store.get('valve_observed', 'v1')).toMatchObject({ open: true });
  });

  it('a downgraded release cannot express the newer pending writes: they are refused typed (UPDATE_REQUIRED), kept visible as conflicts', async () => {
    const d = dir();
    const edgeStore = openStore(new MemoryAdapter());
    const e = edgeAt(edgeStore, v2());
    await e.tri.saveDesired('pump', 'p1', { rpm: 100 });
    await e.tri.saveObserved('valve', 'v1', { open: true });
    let writeId = '';
    await oldRelease(
      d,
      () => e.sync,
      async (fe) => {
        writeId = (await fe.saveDesired('pump', 'p1', { rpm: 110 })).writeId;
      },
      v2(),
    );
    const store = open(d);
    cleanups.push(() => store.close());
    const gate = gated(() => e.sync);
    const fe = frontendOn(store, gate.connect, { registry: v1() });
    cleanups.push(() => fe.stop(), gate.open);
    await fe.start();
    expect(fe.schemaUpgrades).toEqual([{ workerType: 'pump', from: 2, to: 1, mode: 'resynced', documents: 0, writes: 0, refused: 1 }]);
    expect(await fe.outcome(writeId)).toMatchObject({ kind: 'refused', code: 'UPDATE_REQUIRED', value: { rpm: 110 } });
    expect(fe.pending).toBe(0);
    expect(await store.get('pump_desired', 'p1')).toMatchObject({ _sync_status: 'conflict', _conflict: { code: 'UPDATE_REQUIRED', value: { rpm: 110 } } });
    expect(await stateOf(store)).toMatchObject({ schemas: { pump: 1, valve: 1 } });
  });
});
