/**
 * Protocol 2 beside 1 (docs/sync-protocol.md, "Versions"): an Edge serves a v1 Frontend as
 * before (welcome v1, writes without a base sync id), answers a v2 write based on a re-created
 * document with a conflict, and refuses versions it does not speak.
 */
import { describe, expect, it } from 'vitest';
import { memoryPair } from '@cse/sync';
import type { EdgeSync } from '@cse/sync';
import { memoryEdge, until } from './helpers.js';

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

  it('an Edge refuses a version it does not speak', async () => {
    const edge = memoryEdge();
    for (const v of [0, 3]) {
      const c = raw(edge.sync);
      c.send(hello(v));
      await until(() => c.closed(), 'closed');
      expect(c.got.find((m) => m.t === 'error')).toMatchObject({ code: 'PROTOCOL' });
    }
    await edge.sync.close();
  });
});
