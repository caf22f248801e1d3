// A Frontend that restarts (reload, crash) with writes still in its outbox sends them with
// the right worker id. Found by processes.test.ts (seed 768544475): the outbox entry's `id`
// field is replaced by the record id (`<collection>:<id>`) when it is stored, so after a
// reload the write went to `pump_desired/"pump_desired:d6"` and `d6` stayed pending forever.
import { describe, expect, it } from 'vitest';
import { MemoryAdapter, openStore } from '@cse/core';
import { frontendOn, memoryEdge, pairConnector, until } from './helpers.js';

describe('outbox across a Frontend restart', () => {
  it('a write queued before the restart reaches the Edge under its own id', async () => {
    const edge = memoryEdge();
    const local = openStore(new MemoryAdapter());
    let up = false;
    const connect = pairConnector(() => (up ? edge.sync : undefined));
    const first = frontendOn(local, connect);
    await first.start();
    await first.saveDesired('pump', 'p1', { rpm: 5 });
    await first.stop(); // the page is reloaded with the write still queued

    up = true;
    const second = frontendOn(local, connect);
    await second.start();
    await until(() => second.pending === 0, 'the queued write acknowledged');
    expect(await edge.triangular.loadDesired('pump', 'p1')).toMatchObject({ rpm: 5, _version: 1 });
    expect(await local.get('pump_desired', 'p1')).toMatchObject({ rpm: 5, _sync_status: 'synced', _edge_version: 1 });
    expect(await local.find('pump_desired')).toHaveLength(1);
    await second.stop();
  });
});
