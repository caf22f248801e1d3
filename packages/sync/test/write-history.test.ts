/**
 * The Edge's record of applied writes, read through the sync channel (`admin('history')`): each
 * write applied to a Desired document, newest first, with when, the version it made and the
 * writing Frontend's label. Grant-checked: a Frontend gets it only for a collection its grant
 * reads (no admin grant needed); anything else is FORBIDDEN, a malformed request VALIDATION.
 */
import { describe, expect, it } from 'vitest';
import { MemoryAdapter, openStore } from '@cse/core';
import type { Store } from '@cse/core';
import { SecureFrontend, grantPreset, normalizeGrant } from '@cse/sync';
import type { AppliedWrite, FrontendSync, Grant } from '@cse/sync';
import { frontendOn, until } from './helpers.js';
import type { SecureEdgeFixture } from './secure-helpers.js';
import { secureDial, secureMemoryEdge } from './secure-helpers.js';

async function live(edge: SecureEdgeFixture, grant: Grant): Promise<{ fe: FrontendSync; id: string }> {
  const store: Store = openStore(new MemoryAdapter());
  const secure = await SecureFrontend.open({ store });
  const { code } = await edge.secure.createPairingCode({ grant, ...(grant.label === undefined ? {} : { label: grant.label }) });
  await secure.pair(code, secureDial(() => edge));
  const fe = frontendOn(store, secure.connector(secureDial(() => edge)));
  await fe.start();
  await until(() => fe.status === 'live', `the ${grant.label ?? 'frontend'} session`);
  return { fe, id: secure.frontendId };
}

describe("the Edge's record of applied writes", () => {
  it('lists who changed a Desired document and when, newest first, to any Frontend that may read it; others are refused', async () => {
    const edge = await secureMemoryEdge();
    const tablet = await live(edge, grantPreset('operator', { label: 'Line A tablet' }));
    const room = await live(edge, grantPreset('operator', { label: 'control room' }));
    const before = new Date().toISOString();
    await tablet.fe.saveDesired('pump', 'p1', { rpm: 100 }, { baseVersion: 0 });
    await until(() => tablet.fe.pending === 0, 'the first write to be applied');
    await until(async () => (await room.fe.store.get('pump_desired', 'p1'))?._edge_version === 1, 'the control room to see version 1');
    await room.fe.saveDesired('pump', 'p1', { rpm: 200 }, { baseVersion: 1 });
    await until(() => room.fe.pending === 0, 'the second write to be applied');
    // A write to another document is not in this one's history.
    await tablet.fe.saveDesired('pump', 'p2', { rpm: 5 }, { baseVersion: 0 });
    await until(() => tablet.fe.pending === 0, 'the third write to be applied');

    // A viewer (reads everything, writes nothing, no administration) may read the history.
    const viewer = await live(edge, grantPreset('viewer', { label: 'wall screen' }));
    const { history } = (await viewer.fe.admin('history', { collection: 'pump_desired', id: 'p1' })) as unknown as { history: AppliedWrite[] };
    expect(history.map((h) => [h.version, h.label, h.frontendId])).toEqual([
      [2, 'control room', room.id],
      [1, 'Line A tablet', tablet.id],
    ]);
    for (const h of history) expect(h.at >= before && h.at <= new Date().toISOString()).toBe(true);
    expect((await viewer.fe.admin('history', { collection: 'pump_desired', id: 'p1', limit: 1 })).history).toHaveLength(1);
    expect((await viewer.fe.admin('history', { collection: 'pump_desired', id: 'nope' })).history).toEqual([]);

    // A grant that reads only valves gets nothing of the pumps: FORBIDDEN.
    const valves = await live(edge, normalizeGrant({ read: { workerTypes: ['valve'], roles: ['identity', 'desired', 'observed'] }, write: { workerTypes: [] }, admin: false, label: 'valve panel' }));
    await expect(valves.fe.admin('history', { collection: 'pump_desired', id: 'p1' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(valves.fe.admin('history', { id: 'p1' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    // Only Desired documents have a history of writes; an id is required.
    await expect(viewer.fe.admin('history', { collection: 'pump_observed', id: 'p1' })).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(viewer.fe.admin('history', { collection: 'pump_desired' })).rejects.toMatchObject({ code: 'VALIDATION' });
    // Still no administration for the viewer.
    await expect(viewer.fe.admin('list')).rejects.toMatchObject({ code: 'FORBIDDEN' });
    for (const f of [tablet, room, viewer, valves]) await f.fe.stop();
  });
});
