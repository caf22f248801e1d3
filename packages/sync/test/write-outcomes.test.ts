/**
 * Deterministic regressions of issue 20's sync-core defects and the write-outcome API (S4,
 * S10): a duplicate's answer names the version that write produced (lost update, phantom
 * version), a refusal keeps the Edge's document, a write based on a document that was deleted,
 * compacted and re-created is a conflict, an explicit base version, outcomes across a reload,
 * and a revoked Frontend.
 */
import { describe, expect, it } from 'vitest';
import { CseError, MemoryAdapter, openStore } from '@cse/core';
import type { WriteOutcome } from '@cse/sync';
import { edgeOn, frontendOn, memoryEdge, pairConnector, until } from './helpers.js';
import { resultGate } from './fixtures/result-gate.js';

function setup(edge = memoryEdge()) {
  const gate = resultGate();
  let up = true;
  const local = openStore(new MemoryAdapter());
  const connect = pairConnector(() => (up ? edge.sync : undefined), (t) => gate.wrap(t));
  const fe = frontendOn(local, connect);
  return {
    edge,
    gate,
    local,
    fe,
    setUp(v: boolean) {
      up = v;
    },
  };
}

describe('write results and outcomes', () => {
  it('defect 1: an edit made before a duplicate answer arrives is re-based on the version the first write produced, not on a newer Edge write', async () => {
    const { edge, gate, local, fe, setUp } = setup();
    await edge.triangular.saveDesired('pump', 'p1', { rpm: 1 });
    await fe.start();
    await fe.settled();
    // W1 applies (v2), its answer is lost with the connection; the Edge then writes v3.
    setUp(false);
    gate.mode = 'drop';
    await fe.saveDesired('pump', 'p1', { rpm: 2 });
    await until(() => gate.dropped === 1, 'the first answer lost');
    expect((await edge.triangular.loadDesired('pump', 'p1'))?._version).toBe(2);
    await edge.triangular.saveDesired('pump', 'p1', { rpm: 30 });
    // W1 is sent again; its (duplicate) answer is held while the user edits again (W2).
    gate.mode = 'hold';
    setUp(true);
    await until(() => gate.held.length === 1, 'the resend answered');
    await fe.saveDesired('pump', 'p1', { rpm: 4 });
    gate.release();
    await fe.settled();
    // W2 was based on v2 (what W1 made) and the Edge is at v3: a conflict, not a lost update.
    expect(await edge.triangular.loadDesired('pump', 'p1')).toMatchObject({ rpm: 30, _version: 3 });
    expect(await local.get('pump_desired', 'p1')).toMatchObject({ rpm: 30, _edge_version: 3, _sync_status: 'conflict', _conflict: { value: { id: 'p1', rpm: 4 } } });
    await fe.stop();
  });

  it('defect 2: a no-op write whose answer was lost leaves the replica at the Edge version, and the next write applies', async () => {
    const { edge, gate, local, fe } = setup();
    await edge.triangular.saveDesired('pump', 'p1', { rpm: 1 });
    await fe.start();
    await fe.settled();
    gate.mode = 'drop';
    await fe.saveDesired('pump', 'p1', { rpm: 1 }); // equal to the Edge's value: a no-op there
    await until(() => gate.dropped === 1, 'the answer lost');
    await fe.settled();
    expect(await local.get('pump_desired', 'p1')).toMatchObject({ rpm: 1, _edge_version: 1, _sync_status: 'synced' });
    await fe.saveDesired('pump', 'p1', { rpm: 2 });
    await fe.settled();
    expect(await edge.triangular.loadDesired('pump', 'p1')).toMatchObject({ rpm: 2, _version: 2 });
    expect(await local.get('pump_desired', 'p1')).toMatchObject({ rpm: 2, _edge_version: 2, _sync_status: 'synced' });
    await fe.stop();
  });

  it('a duplicate answer for a document deleted and compacted since removes it from the replica (fault property seed 1521588533)', async () => {
    const { edge, gate, local, fe, setUp } = setup();
    await edge.triangular.saveIdentity('pump', 'p2', { kind: 'pump' });
    await fe.start();
    await fe.settled();
    setUp(false);
    gate.mode = 'drop';
    const w = await fe.saveDesired('pump', 'p1', { rpm: 1 });
    await until(() => gate.dropped === 1, 'the answer lost');
    await edge.triangular.deleteWorker('pump', 'p1');
    await edge.store.compact(await edge.store.lastSyncId()); // no page will ever mention p1 again
    setUp(true);
    await fe.settled();
    expect(await w.result).toMatchObject({ kind: 'applied', version: 1, duplicate: true });
    expect(await local.get('pump_desired', 'p1')).toBeUndefined();
    await fe.stop();
  });

  it('defect 3: a refused write keeps the Edge document in the replica; "theirs" restores it, and a refused new document goes away', async () => {
    const { edge, local, fe } = setup(edgeOn(openStore(new MemoryAdapter(), { maxDocumentBytes: 2000 })));
    await edge.triangular.saveDesired('pump', 'p1', { rpm: 1 });
    await fe.start();
    await fe.settled();
    await fe.saveDesired('pump', 'p1', { rpm: 2, note: 'x'.repeat(5000) });
    await fe.saveDesired('pump', 'p2', { note: 'y'.repeat(5000) });
    await fe.settled();
    expect(await local.get('pump_desired', 'p1')).toMatchObject({ rpm: 1, _edge_version: 1, _sync_status: 'conflict', _conflict: { code: 'VALIDATION' } });
    expect(await fe.resolveConflict('pump', 'p1', 'theirs')).toMatchObject({ rpm: 1, _edge_version: 1, _sync_status: 'synced' });
    expect(await local.get('pump_desired', 'p2')).toMatchObject({ _sync_status: 'conflict', _conflict: { code: 'VALIDATION' } });
    await fe.resolveConflict('pump', 'p2', 'theirs');
    expect(await local.get('pump_desired', 'p2')).toBeUndefined();
    await fe.stop();
  });

  it('a conflict survives a rebuild (a compacted cursor): the refused value stays visible on the Edge document (fault property seed 505389491)', async () => {
    const { edge, local, fe, setUp } = setup(edgeOn(openStore(new MemoryAdapter(), { maxDocumentBytes: 2000 })));
    await edge.triangular.saveDesired('pump', 'p1', { rpm: 1 });
    await edge.triangular.saveDesired('pump', 'p2', { rpm: 1 });
    await fe.start();
    await fe.settled();
    await fe.saveDesired('pump', 'p1', { rpm: 2, note: 'x'.repeat(5000) }); // refused: VALIDATION
    await fe.saveDesired('pump', 'p3', { note: 'y'.repeat(5000) }); // refused, never on the Edge
    await fe.settled();
    setUp(false);
    fe.reconnect();
    await until(() => fe.status === 'offline' || fe.status === 'connecting', 'offline');
    await edge.triangular.deleteWorker('pump', 'p2');
    await edge.store.compact(await edge.store.lastSyncId()); // the replica's cursor is now too old: a reset
    setUp(true);
    await fe.settled();
    expect(await local.get('pump_desired', 'p1')).toMatchObject({ rpm: 1, _edge_version: 1, _sync_status: 'conflict', _conflict: { code: 'VALIDATION', value: { rpm: 2 } } });
    expect((await local.get('pump_desired', 'p1'))?._conflict).not.toHaveProperty('edgeDeleted');
    expect(await local.get('pump_desired', 'p3')).toMatchObject({ _sync_status: 'conflict', _conflict: { edgeDeleted: true } });
    expect(await local.get('pump_desired', 'p2')).toBeUndefined();
    await fe.stop();
  });

  it('defect 6: an offline write based on a document that was deleted, compacted and re-created is a conflict', async () => {
    const { edge, local, fe, setUp } = setup();
    await edge.triangular.saveDesired('pump', 'p1', { rpm: 1 });
    await fe.start();
    await fe.settled();
    setUp(false);
    fe.reconnect();
    await until(() => fe.status === 'offline' || fe.status === 'connecting', 'offline');
    await fe.saveDesired('pump', 'p1', { rpm: 2 }); // based on version 1 of the old document
    await edge.triangular.deleteWorker('pump', 'p1');
    await edge.store.compact(await edge.store.lastSyncId());
    await edge.triangular.saveDesired('pump', 'p1', { rpm: 50 }); // version 1 again, another document
    expect((await edge.triangular.loadDesired('pump', 'p1'))?._version).toBe(1);
    setUp(true);
    await fe.settled();
    expect(await edge.triangular.loadDesired('pump', 'p1')).toMatchObject({ rpm: 50 });
    expect(await local.get('pump_desired', 'p1')).toMatchObject({ rpm: 50, _sync_status: 'conflict', _conflict: { value: { rpm: 2 } } });
    await fe.stop();
  });

  it('every write has an outcome: applied with its version, conflict with both values, refused, superseded; as a promise and an event', async () => {
    const { edge, fe, setUp } = setup(edgeOn(openStore(new MemoryAdapter(), { maxDocumentBytes: 2000 })));
    const events: WriteOutcome[] = [];
    fe.onOutcome((o) => events.push(o));
    await edge.triangular.saveDesired('pump', 'p1', { rpm: 1 });
    await fe.start();
    await fe.settled();
    const a = await fe.saveDesired('pump', 'p1', { rpm: 2 });
    expect(a).toMatchObject({ rpm: 2, _sync_status: 'pending' });
    expect(Object.keys(a)).not.toContain('result');
    expect(await a.result).toMatchObject({ kind: 'applied', writeId: a.writeId, version: 2, value: { rpm: 2 } });
    // Offline: the Edge moves on; two edits, the first replaced before it was ever sent.
    setUp(false);
    fe.reconnect();
    await until(() => fe.status === 'offline' || fe.status === 'connecting', 'offline');
    await edge.triangular.saveDesired('pump', 'p1', { rpm: 10 });
    const b = await fe.saveDesired('pump', 'p1', { rpm: 3 });
    const c = await fe.saveDesired('pump', 'p1', { rpm: 4 });
    expect(await b.result).toMatchObject({ kind: 'superseded', by: c.writeId });
    setUp(true);
    expect(await c.result).toMatchObject({ kind: 'conflict', value: { rpm: 4 }, base: 2, theirs: { rpm: 10 }, theirsVersion: 3 });
    const d = await fe.saveDesired('pump', 'p2', { note: 'z'.repeat(5000) });
    expect(await d.result).toMatchObject({ kind: 'refused', code: 'VALIDATION' });
    expect(await fe.outcome(a.writeId)).toMatchObject({ kind: 'applied' });
    expect(events.map((e) => [e.writeId, e.kind])).toEqual([
      [a.writeId, 'applied'],
      [b.writeId, 'superseded'],
      [c.writeId, 'conflict'],
      [d.writeId, 'refused'],
    ]);
    await fe.stop();
  });

  it('baseVersion: an edit based on a version the Edge has moved past is a visible conflict', async () => {
    const { edge, local, fe } = setup();
    await edge.triangular.saveDesired('pump', 'p1', { rpm: 1 });
    await fe.start();
    await fe.settled();
    const form = (await local.get('pump_desired', 'p1'))?._edge_version as number; // operator A opens the form
    const other = await fe.saveDesired('pump', 'p1', { rpm: 2 }, { baseVersion: form }); // operator B saves first
    expect(await other.result).toMatchObject({ kind: 'applied', version: 2 });
    const mine = await fe.saveDesired('pump', 'p1', { rpm: 3 }, { baseVersion: form });
    expect(await mine.result).toMatchObject({ kind: 'conflict', base: 1, theirs: { rpm: 2 }, theirsVersion: 2 });
    await fe.settled();
    expect(await edge.triangular.loadDesired('pump', 'p1')).toMatchObject({ rpm: 2, _version: 2 });
    expect(await local.get('pump_desired', 'p1')).toMatchObject({ rpm: 2, _sync_status: 'conflict' });
    await expect(fe.saveDesired('pump', 'p1', { rpm: 3 }, { baseVersion: -1 })).rejects.toMatchObject({ code: 'VALIDATION' });
    await fe.stop();
  });

  it('a conflict stays visible when the Edge changes the document again: in the session that made it and after a reload', async () => {
    const { edge, local, fe } = setup();
    await edge.triangular.saveDesired('pump', 'p1', { rpm: 1 });
    await edge.triangular.saveDesired('pump', 'p2', { rpm: 1 });
    await fe.start();
    await fe.settled();
    const form = (await local.get('pump_desired', 'p1'))?._edge_version as number;
    await edge.triangular.saveDesired('pump', 'p1', { rpm: 2 }); // someone else, first
    const mine = await fe.saveDesired('pump', 'p1', { rpm: 3 }, { baseVersion: form });
    expect(await mine.result).toMatchObject({ kind: 'conflict' });
    // The Edge moves on: a page brings p1 (and p2) again, and p1 keeps the refused value.
    const edgeMovesOn = async (frontend: typeof fe, rpm: number): Promise<void> => {
      await edge.triangular.saveDesired('pump', 'p1', { rpm });
      await edge.triangular.saveDesired('pump', 'p2', { rpm });
      await until(async () => (await local.get('pump_desired', 'p2'))?.rpm === rpm, `the page with p2 at ${rpm}`);
      await frontend.settled();
      expect(await local.get('pump_desired', 'p1')).toMatchObject({ rpm, _sync_status: 'conflict', _conflict: { value: { rpm: 3 } } });
    };
    await edgeMovesOn(fe, 4);
    await fe.stop();
    // A new instance on the same replica (a reload).
    const again = frontendOn(local, pairConnector(() => edge.sync));
    await again.start();
    await edgeMovesOn(again, 5);
    await again.stop();
  });

  it('a write whose answer arrives after a reload gets its outcome in the new instance', async () => {
    const edge = memoryEdge();
    const local = openStore(new MemoryAdapter());
    let up = false;
    const connect = pairConnector(() => (up ? edge.sync : undefined));
    const first = frontendOn(local, connect);
    await first.start();
    const w = await first.saveDesired('pump', 'p1', { rpm: 5 });
    await first.stop();
    up = true;
    const second = frontendOn(local, connect);
    const events: WriteOutcome[] = [];
    second.onOutcome((o) => events.push(o));
    const later = second.outcome(w.writeId);
    await second.start();
    expect(await later).toMatchObject({ kind: 'applied', version: 1, writeId: w.writeId });
    expect(events).toHaveLength(1);
    await second.stop();
  });

  it('revoked: status "revoked", no more retries, settled() rejects, and wipeOnRevoke clears the replica', async () => {
    const edge = memoryEdge();
    let revoked = false;
    let attempts = 0;
    const inner = pairConnector(() => edge.sync);
    const connect = async () => {
      attempts++;
      if (revoked) throw new CseError('REVOKED', 'this Frontend was revoked');
      return inner();
    };
    await edge.triangular.saveDesired('pump', 'p1', { rpm: 1 });
    const local = openStore(new MemoryAdapter());
    const fe = frontendOn(local, connect, { wipeOnRevoke: true });
    await fe.start();
    await fe.settled();
    const statuses: string[] = [];
    fe.onStatus((s) => statuses.push(s));
    revoked = true;
    fe.reconnect();
    await until(() => fe.status === 'revoked', 'revoked');
    const tried = attempts;
    await expect(fe.settled()).rejects.toMatchObject({ code: 'REVOKED' });
    expect(fe.lastError).toMatchObject({ code: 'REVOKED' });
    expect(await local.find('pump_desired')).toEqual([]);
    fe.reconnect();
    await fe.stop();
    expect(fe.status).toBe('revoked');
    expect(attempts).toBe(tried);
    expect(statuses.slice(statuses.indexOf('revoked'))).toEqual(['revoked']);
  });

  it('a burst of saves shares one local commit; each keeps its own write id and outcome, two saves of one document supersede in order, and a bad document fails only its own call', async () => {
    const edge = memoryEdge();
    let commits = 0;
    class Counting extends MemoryAdapter {
      override commit(...args: Parameters<MemoryAdapter['commit']>): ReturnType<MemoryAdapter['commit']> {
        commits++;
        return super.commit(...args);
      }
    }
    const local = openStore(new Counting());
    const fe = frontendOn(local, pairConnector(() => edge.sync));
    await fe.saveDesired('pump', 'warm', { rpm: 0 });
    // Offline: the saves are only local, so the count is theirs alone.
    const before = commits;
    const saved = await Promise.all([...Array.from({ length: 10 }, (_, i) => fe.saveDesired('pump', `p${i}`, { rpm: i })), fe.saveDesired('pump', 'p0', { rpm: 100 })]);
    expect(commits - before).toBe(2); // ten documents, then the second save of p0 on its own
    expect(new Set(saved.map((s) => s.writeId)).size).toBe(11);
    const mixed = await Promise.allSettled([fe.saveDesired('pump', 'q1', { rpm: 1 }), fe.saveDesired('pump', 'q2', { rpm: () => 2 }), fe.saveDesired('pump', 'q3', { rpm: 3 })]);
    expect(mixed.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((mixed[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'VALIDATION' });
    await fe.start();
    const outcomes = await Promise.all(saved.map((s) => s.result));
    expect(outcomes[0]).toMatchObject({ kind: 'superseded', by: saved[10]?.writeId });
    expect(outcomes.slice(1).map((o) => o.kind)).toEqual(Array<string>(10).fill('applied'));
    await fe.settled();
    expect(await edge.triangular.loadDesired('pump', 'p0')).toMatchObject({ rpm: 100, _version: 1 });
    expect(await edge.triangular.loadDesired('pump', 'q2')).toBeUndefined();
    expect(await local.get('pump_desired', 'q2')).toBeUndefined();
    expect(await edge.triangular.loadDesired('pump', 'q3')).toMatchObject({ rpm: 3 });
    expect(edge.sync.stats.writesApplied).toBe(13);
    await fe.stop();
  });
});
