/**
 * S8: malformed, oversized and out-of-protocol frames get a typed error and a closed connection;
 * nothing is applied and the other side, and other sessions, keep working.
 */
import { describe, expect, it } from 'vitest';
import { MemoryAdapter, openStore } from '@cse/core';
import { EdgeSync, decodeClient, decodeEdge, encode, memoryPair } from '@cse/sync';
import type { Transport } from '@cse/sync';
import { frontendOn, memoryEdge, pairConnector, until } from './helpers.js';

/** A raw connection to the Edge: what it sends, and whether it closed. */
function raw(edge: EdgeSync): { t: Transport; got: string[]; closed: () => boolean } {
  const [a, b] = memoryPair();
  edge.accept(b);
  const got: string[] = [];
  let closed = false;
  a.onmessage = (f) => got.push(f);
  a.onclose = () => {
    closed = true;
  };
  return { t: a, got, closed: () => closed };
}

const hello = (over: Record<string, unknown> = {}): string =>
  JSON.stringify({ t: 'hello', v: 1, client: 'c1', epoch: null, collections: ['pump_desired'], cursors: {}, ...over });

describe('a hostile Frontend', () => {
  const bad: [string, string[]][] = [
    ['not JSON', ['{nope']],
    ['not an object', ['[1,2]']],
    ['an unknown type', ['{"t":"drop-tables"}']],
    ['a write before hello', [JSON.stringify({ t: 'write', w: 'w1', c: 'pump_desired', id: 'p1', base: 0, body: { x: 1 } })]],
    ['a second hello', [hello(), hello()]],
    ['an unknown protocol version', [hello({ v: 99 })]],
    ['an unregistered collection', [hello({ collections: ['secrets'] })]],
    ['an unknown field', [hello({ admin: true })]],
    ['a negative cursor', [hello({ cursors: { pump_desired: -1 } })]],
    ['a write with a bad id', [hello(), JSON.stringify({ t: 'write', w: 'w1', c: 'pump_desired', id: '', base: 0, body: {} })]],
    ['an ack of a page never sent', [hello(), JSON.stringify({ t: 'ack', n: 7 })]],
    ['an oversized frame', [hello(), JSON.stringify({ t: 'write', w: 'w1', c: 'pump_desired', id: 'p1', base: 0, body: { big: 'x'.repeat(2000) } })]],
  ];
  for (const [what, frames] of bad) {
    it(`${what}: PROTOCOL error, connection closed, nothing written`, async () => {
      const edge = memoryEdge({ maxFrame: 1000 });
      await edge.triangular.saveDesired('pump', 'p1', { rpm: 1 });
      const before = await edge.store.lastSyncId();
      const c = raw(edge.sync);
      for (const f of frames) c.t.send(f);
      await until(() => c.closed(), 'the Edge to close the connection');
      const errors = c.got.map((f) => JSON.parse(f) as { t: string; code?: string }).filter((m) => m.t === 'error');
      expect(errors.map((e) => e.code)).toEqual(['PROTOCOL']);
      expect((await edge.triangular.loadDesired('pump', 'p1'))?.rpm).toBe(1);
      // The epoch may have been created by a hello that got that far; no application write.
      const page = await edge.store.changesSince(before);
      expect(page.changes).toEqual([]);
      expect(edge.sync.stats.protocolErrors).toBe(1);
    });
  }

  it('writes to Identity, Observed or outside the subscription are refused (FORBIDDEN) and change nothing; the session goes on', async () => {
    const edge = memoryEdge();
    await edge.triangular.saveObserved('pump', 'p1', { rpm: 1 });
    const c = raw(edge.sync);
    c.t.send(hello({ collections: ['pump_identity', 'pump_observed', 'pump_desired'] }));
    c.t.send(encode({ t: 'write', w: 'w1', c: 'pump_observed', id: 'p1', base: 1, body: { rpm: 666 } }));
    c.t.send(encode({ t: 'write', w: 'w2', c: 'pump_identity', id: 'p1', base: 0, body: { forged: true } }));
    c.t.send(encode({ t: 'write', w: 'w3', c: 'valve_desired', id: 'v1', base: 0, body: { open: true } }));
    c.t.send(encode({ t: 'write', w: 'w4', c: 'pump_desired', id: 'p1', base: 0, body: { rpm: 5 } }));
    await until(() => c.got.some((f) => f.includes('"w4"')), 'the last result');
    const results = c.got.map((f) => JSON.parse(f) as { t: string; w?: string; ok?: boolean; code?: string }).filter((m) => m.t === 'result');
    expect(results.map((r) => [r.w, r.ok, r.code])).toEqual([
      ['w1', false, 'FORBIDDEN'],
      ['w2', false, 'FORBIDDEN'],
      ['w3', false, 'FORBIDDEN'],
      ['w4', true, undefined],
    ]);
    expect((await edge.triangular.loadObserved('pump', 'p1'))?.rpm).toBe(1);
    expect(await edge.triangular.loadIdentity('pump', 'p1')).toBeUndefined();
    expect(await edge.triangular.loadDesired('valve', 'v1')).toBeUndefined();
    expect(c.closed()).toBe(false);
    c.t.close();
  });

  it('another Frontend keeps syncing while a hostile one is thrown out', async () => {
    const edge = memoryEdge();
    const local = openStore(new MemoryAdapter());
    const fe = frontendOn(local, pairConnector(() => edge.sync));
    await fe.start();
    const c = raw(edge.sync);
    c.t.send('garbage');
    await until(() => c.closed(), 'the hostile connection to close');
    await edge.triangular.saveObserved('pump', 'p9', { ok: true });
    await until(async () => (await local.get('pump_observed', 'p9')) !== undefined, 'the good Frontend to get the change');
    await fe.stop();
  });
});

describe('a hostile Edge', () => {
  it('malformed or inconsistent pages are refused before anything is applied; the Frontend reconnects', async () => {
    const local = openStore(new MemoryAdapter());
    let attempt = 0;
    const epoch = 'e'.repeat(8);
    const fe = frontendOn(local, async () => {
      attempt++;
      const [a, b] = memoryPair();
      b.onmessage = (f) => {
        const m = JSON.parse(f) as { t: string };
        if (m.t !== 'hello') return;
        b.send(encode({ t: 'welcome', v: 1, epoch, head: 5, reset: false, collections: {} }));
        // A page whose change lies outside (from, to], with a document that disagrees with it.
        b.send(
          JSON.stringify({
            t: 'page',
            n: 1,
            cs: ['pump_observed'],
            from: 0,
            to: 1,
            changes: [{ c: 'pump_observed', id: 'p1', s: 3, v: 1, d: false, doc: { id: 'p1', _sync_id: 3, _version: 1, evil: true } }],
            head: 5,
          }),
        );
      };
      return a;
    });
    await fe.start();
    await until(() => attempt >= 3, 'the Frontend to drop and retry');
    await fe.stop();
    expect(await local.get('pump_observed', 'p1')).toBeUndefined();
    expect((fe.lastError as { code?: string }).code).toBe('PROTOCOL');
  });

  it('decoders reject what does not match the protocol, with PROTOCOL', () => {
    const cases: unknown[] = [
      'x',
      42,
      '{"t":"page","n":1,"cs":["a"],"from":2,"to":1,"changes":[],"head":1}',
      '{"t":"page","n":1,"cs":["a"],"from":0,"to":5,"changes":[{"c":"b","id":"x","s":1,"v":1,"d":false,"doc":{"id":"x","_sync_id":1,"_version":1}}],"head":5}',
      '{"t":"result","w":"w","ok":false,"code":"NOPE","message":"","current":null}',
      '{"t":"welcome","v":1,"epoch":"","head":0,"reset":false,"collections":{}}',
    ];
    for (const c of cases) expect(() => decodeEdge(c)).toThrow(expect.objectContaining({ code: 'PROTOCOL' }) as Error);
    expect(() => decodeClient('{"t":"write","w":"w","c":"a","id":"x","base":-1,"body":{}}')).toThrow(expect.objectContaining({ code: 'PROTOCOL' }) as Error);
    expect(() => decodeClient('{"t":"hello","v":1,"client":"c","epoch":null,"collections":["a","a"],"cursors":{}}')).toThrow(expect.objectContaining({ code: 'PROTOCOL' }) as Error);
  });
});

describe('many Frontends on one Edge', () => {
  it('each with its own cursor and subscription', async () => {
    const edge = memoryEdge();
    for (let i = 0; i < 20; i++) await edge.triangular.saveObserved(i % 2 === 0 ? 'pump' : 'valve', `w${i}`, { i });
    const fes = [0, 1, 2, 3, 4, 5].map((k) => {
      const store = openStore(new MemoryAdapter());
      return { store, fe: frontendOn(store, pairConnector(() => edge.sync), { subscription: { workerTypes: k % 2 === 0 ? ['pump'] : ['pump', 'valve'] } }) };
    });
    await Promise.all(fes.map((f) => f.fe.start()));
    await edge.triangular.saveObserved('valve', 'late', { i: 99 });
    for (const [k, f] of fes.entries()) {
      await until(async () => (await f.store.find('pump_observed')).length === 10, `frontend ${k} pumps`);
      if (k % 2 === 1) await until(async () => (await f.store.find('valve_observed')).length === 11, `frontend ${k} valves`);
      else expect(await f.store.find('valve_observed')).toEqual([]);
    }
    expect(edge.sync.sessions).toBe(6);
    await Promise.all(fes.map((f) => f.fe.stop()));
  });
});
