/**
 * Protocols 1, 2 and 3 side by side (docs/sync-protocol.md, "Versions"): an Edge serves a v1
 * Frontend as before (welcome v1, writes without a base sync id), answers a v2 write based on a
 * re-created document with a conflict, serves v2 sessions unbatched and unpacked, answers a v3
 * `writes` frame with one `results` frame (each write its own outcome, applied once), and refuses
 * versions it does not speak; a v3 Frontend meeting an Edge that refuses v3 speaks v2 to it.
 */
import { describe, expect, it } from 'vitest';
import { MemoryAdapter, openStore } from '@cse/core';
import { memoryPair } from '@cse/sync';
import type { EdgeSync, Transport } from '@cse/sync';
import { frontendOn, memoryEdge, pairConnector, until } from './helpers.js';
import { over } from './fixtures/result-gate.js';

function raw(edge: EdgeSync): { send: (m: Record<string, unknown>) => void; got: Record<string, unknown>[]; closed: () => boolean } {
  const [a, b] = memoryPair();
  edge.accept(b);
  const got: Record<string, unknown>[] = [];
  let closed = false;
  a.onmessage = (f) => got.push(JSON.parse(f) as Record<string, unknown>);
  a.onclose = () => {
    closed = true;
  };
  return { send: (m) => a.send(JSON.stringify(m)), got, closed: () => closed };
}

const hello = (v: number) => ({ t: 'hello', v, client: 'c1', epoch: null, collections: ['pump_desired'], cursors: {} });

describe('protocol versions', () => {
  it('a v1 Frontend gets a v1 welcome and its writes apply as before', async () => {
    const edge = memoryEdge();
    const c = raw(edge.sync);
    c.send(hello(1));
    await until(() => c.got.some((m) => m.t === 'welcome'), 'welcome');
    expect(c.got.find((m) => m.t === 'welcome')).toMatchObject({ v: 1 });
    c.send({ t: 'write', w: 'w1', c: 'pump_desired', id: 'p1', base: 0, body: { rpm: 1 } });
    await until(() => c.got.some((m) => m.t === 'result'), 'result');
    expect(c.got.find((m) => m.t === 'result')).toMatchObject({ w: 'w1', ok: true, version: 1, dup: false });
    expect(await edge.triangular.loadDesired('pump', 'p1')).toMatchObject({ rpm: 1 });
    await edge.sync.close();
  });

  it('v2: a base sync id that is not the document\'s is a conflict; the same write sent again after it applied is a duplicate naming its version', async () => {
    const edge = memoryEdge();
    const first = await edge.triangular.saveDesired('pump', 'p1', { rpm: 1 });
    const c = raw(edge.sync);
    c.send(hello(2));
    await until(() => c.got.some((m) => m.t === 'welcome'), 'welcome');
    c.send({ t: 'write', w: 'stale', c: 'pump_desired', id: 'p1', base: 1, bs: first.doc._sync_id + 1000, body: { rpm: 2 } });
    c.send({ t: 'write', w: 'fresh', c: 'pump_desired', id: 'p1', base: 1, bs: first.doc._sync_id, body: { rpm: 3 } });
    c.send({ t: 'write', w: 'fresh', c: 'pump_desired', id: 'p1', base: 1, bs: first.doc._sync_id, body: { rpm: 3 } });
    await until(() => c.got.filter((m) => m.t === 'result').length === 3, 'three results');
    const [stale, fresh, again] = c.got.filter((m) => m.t === 'result');
    expect(stale).toMatchObject({ w: 'stale', ok: false, code: 'CONFLICT', current: { rpm: 1, _version: 1 } });
    expect(fresh).toMatchObject({ w: 'fresh', ok: true, version: 2, dup: false });
    expect(again).toMatchObject({ w: 'fresh', ok: true, version: 2, sync: (fresh as { sync: number }).sync, dup: true });
    expect(await edge.triangular.loadDesired('pump', 'p1')).toMatchObject({ rpm: 3, _version: 2 });
    await edge.sync.close();
  });

  it('v3: one writes frame is answered by one results frame in its order, each write with its own outcome, a duplicate applied once', async () => {
    const edge = memoryEdge();
    const first = await edge.triangular.saveDesired('pump', 'p1', { rpm: 1 });
    const c = raw(edge.sync);
    c.send(hello(3));
    await until(() => c.got.some((m) => m.t === 'welcome'), 'welcome');
    expect(c.got.find((m) => m.t === 'welcome')).toMatchObject({ v: 3 });
    const ws = [
      { w: 'a', c: 'pump_desired', id: 'p2', base: 0, body: { rpm: 2 } },
      { w: 'stale', c: 'pump_desired', id: 'p1', base: 7, body: { rpm: 9 } },
      { w: 'b', c: 'pump_desired', id: 'p1', base: 1, bs: first.doc._sync_id, body: { rpm: 3 } },
      { w: 'id', c: 'pump_identity', id: 'p3', base: 0, body: { model: 'X' } },
    ];
    c.send({ t: 'writes', ws });
    await until(() => c.got.some((m) => m.t === 'results'), 'results');
    // The same frame again (a lost answer): every write is a duplicate or refused again, nothing applied twice.
    c.send({ t: 'writes', ws: [ws[0], ws[2]] });
    await until(() => c.got.filter((m) => m.t === 'results').length === 2, 'the second results');
    const [one, two] = c.got.filter((m) => m.t === 'results') as { rs: Record<string, unknown>[] }[];
    expect(one?.rs.map((r) => [r.w, r.ok, r.code ?? r.version, r.dup])).toEqual([
      ['a', true, 1, false],
      ['stale', false, 'CONFLICT', undefined],
      ['b', true, 2, false],
      ['id', false, 'FORBIDDEN', undefined],
    ]);
    expect(two?.rs.map((r) => [r.w, r.ok, r.version, r.dup])).toEqual([
      ['a', true, 1, true],
      ['b', true, 2, true],
    ]);
    expect(c.got.some((m) => m.t === 'result')).toBe(false);
    expect(await edge.triangular.loadDesired('pump', 'p1')).toMatchObject({ rpm: 3, _version: 2 });
    expect(await edge.triangular.loadDesired('pump', 'p2')).toMatchObject({ rpm: 2, _version: 1 });
    expect(edge.sync.stats).toMatchObject({ writesApplied: 2, writesDuplicate: 2, writesConflict: 1, writesRefused: 1 });
    await edge.sync.close();
  });

  it('v3 pages carry each change\'s metadata once; v2 pages as before; a writes frame in a v2 session is a PROTOCOL error', async () => {
    const edge = memoryEdge();
    await edge.triangular.saveDesired('pump', 'p1', { rpm: 1 });
    await edge.triangular.saveDesired('pump', 'p2', { rpm: 2 });
    await edge.triangular.deleteWorker('pump', 'p2');
    const changes = async (v: number) => {
      const c = raw(edge.sync);
      c.send(hello(v));
      await until(() => c.got.some((m) => m.t === 'page'), 'a page');
      return { c, changes: (c.got.find((m) => m.t === 'page') as { changes: Record<string, unknown>[] }).changes };
    };
    const v3 = await changes(3);
    expect(v3.changes.map((x) => Object.keys(x).sort().join())).toEqual(['c,doc,s,v', 'c,d,doc,s,v']);
    for (const x of v3.changes) expect(Object.keys(x.doc as object).filter((k) => ['_sync_id', '_version', '_deleted'].includes(k))).toEqual([]);
    expect(v3.changes[0]?.doc).toMatchObject({ id: 'p1', rpm: 1 });
    const v2 = await changes(2);
    expect(v2.changes.map((x) => [x.id, x.d, (x.doc as Record<string, unknown>)._sync_id === x.s])).toEqual([
      ['p1', false, true],
      ['p2', true, true],
    ]);
    v2.c.send({ t: 'writes', ws: [{ w: 'a', c: 'pump_desired', id: 'p3', base: 0, body: { rpm: 3 } }] });
    await until(() => v2.c.closed(), 'closed');
    expect(v2.c.got.find((m) => m.t === 'error')).toMatchObject({ code: 'PROTOCOL' });
    expect(await edge.triangular.loadDesired('pump', 'p3')).toBeUndefined();
    await edge.sync.close();
  });

  it('a v3 Frontend sends a burst of writes in one frame; with an Edge that refuses v3 it speaks v2 and its writes still apply once', async () => {
    for (const oldEdge of [false, true]) {
      const edge = memoryEdge();
      const sent: string[] = [];
      // An Edge from before v3 refuses the hello as such an Edge does; what it accepts goes on to the real one.
      const wrap = (t: Transport): Transport => {
        const w = over(t, (frame) => {
          sent.push(frame);
          if (oldEdge && frame.startsWith('{"t":"hello","v":3')) {
            w.onmessage?.(JSON.stringify({ t: 'error', code: 'PROTOCOL', message: 'protocol version 3 is not spoken here (this Edge speaks 1 to 2)' }));
            t.close('PROTOCOL');
            return;
          }
          t.send(frame);
        });
        t.onmessage = (f) => w.onmessage?.(f);
        t.onclose = (r) => w.onclose?.(r);
        return w;
      };
      const local = openStore(new MemoryAdapter());
      const fe = frontendOn(local, pairConnector(() => edge.sync, wrap));
      await fe.start();
      await until(() => fe.status === 'live', 'live');
      const saved = await Promise.all(Array.from({ length: 20 }, (_, i) => fe.saveDesired('pump', `p${i}`, { rpm: i })));
      const outcomes = await Promise.all(saved.map((s) => s.result));
      expect(outcomes.map((o) => [o.kind, o.writeId])).toEqual(saved.map((s) => ['applied', s.writeId]));
      expect(edge.sync.stats.writesApplied).toBe(20);
      const types = sent.map((f) => (JSON.parse(f) as { t: string }).t).filter((t) => t === 'write' || t === 'writes');
      expect(types).toEqual(oldEdge ? Array<string>(20).fill('write') : ['writes']);
      expect(sent.filter((f) => f.startsWith('{"t":"hello"')).map((f) => (JSON.parse(f) as { v: number }).v)).toEqual(oldEdge ? [3, 2] : [3]);
      for (let i = 0; i < 20; i++) expect(await local.get('pump_desired', `p${i}`)).toMatchObject({ rpm: i, _sync_status: 'synced', _edge_version: 1 });
      await fe.stop();
      await edge.sync.close();
    }
  });

  it('an Edge refuses a version it does not speak', async () => {
    const edge = memoryEdge();
    for (const v of [0, 4]) {
      const c = raw(edge.sync);
      c.send(hello(v));
      await until(() => c.closed(), 'closed');
      expect(c.got.find((m) => m.t === 'error')).toMatchObject({ code: 'PROTOCOL' });
    }
    await edge.sync.close();
  });
});
