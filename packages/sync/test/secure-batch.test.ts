/**
 * Batch records in the encrypted channel (docs/security.md, "Sessions"): both ends offer them in
 * the handshake, and then the frames sent while a record is being sealed (or in one turn of the
 * event loop) share one record, so a window of pages costs fewer AES-GCM operations and relay
 * frames than pages; the sync on top is unchanged.
 */
import { describe, expect, it } from 'vitest';
import type { Transport } from '@cse/sync';
import { frontendOn, until } from './helpers.js';
import { over } from './fixtures/result-gate.js';
import { pairedFrontend, secureDial, secureMemoryEdge } from './secure-helpers.js';

describe('batch records', () => {
  it('a window of pages goes in fewer records than frames; the replica converges and writes apply once', async () => {
    const edge = await secureMemoryEdge({ pageSize: 2, window: 8 });
    for (let i = 0; i < 60; i++) await edge.triangular.saveObserved('pump', `p${i}`, { rpm: i });
    const { store, secure } = await pairedFrontend(edge);
    let records = 0;
    // Counts the records reaching the Frontend's end (after the handshake's two frames and the finish).
    const counting = (a: Transport, b: Transport): [Transport, Transport] => {
      const w = over(a, (f) => a.send(f));
      a.onmessage = (f) => {
        records++;
        w.onmessage?.(f);
      };
      a.onclose = (r) => w.onclose?.(r);
      return [w, b];
    };
    const fe = frontendOn(store, secure.connector(secureDial(() => edge, counting)), { subscription: { workerTypes: ['pump'] } });
    await fe.start();
    await until(async () => (await store.find('pump_observed')).length === 60 && fe.status === 'live', 'the replica to sync');
    const pages = edge.sync.stats.pagesSent;
    expect(pages).toBeGreaterThanOrEqual(30);
    expect(records - 2).toBeLessThan(pages);
    const saved = await Promise.all(Array.from({ length: 10 }, (_, i) => fe.saveDesired('pump', `p${i}`, { rpm: 100 + i })));
    expect((await Promise.all(saved.map((s) => s.result))).map((o) => o.kind)).toEqual(Array<string>(10).fill('applied'));
    expect(edge.sync.stats.writesApplied).toBe(10);
    await fe.stop();
  });
});
