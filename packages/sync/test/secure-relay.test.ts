/**
 * The encrypted channel through a real relay (startRelay on loopback, real WebSockets), with
 * the glue of secure-relay.ts: pairing with the relay ticket, sync both ways on an Edge on
 * SQLite, and revocation cutting the Frontend at the relay and at the Edge. (The blind check,
 * the relay's tap seeing no marker, field or collection name, is relay-blind.test.ts.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryAdapter, openStore } from '@cse/core';
import type { Store } from '@cse/core';
import { SqliteAdapter } from '@cse/adapter-sqlite';
import { startRelay } from '@cse/relay';
import { SecureEdge, SecureFrontend } from '@cse/sync';
import { nodeRelayDial, nodeRelayEdgeListener, nodeServeSecureRelay } from '@cse/sync/node';
import { edgeOn, frontendOn, until } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'cse-secure-relay-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const MARKER = 'zq-marker-7f3a9c1e-d2b4';
const FIELD = 'temperatureSetpointZq';

async function sqliteEdge(name: string): Promise<ReturnType<typeof edgeOn>> {
  return edgeOn(openStore(new SqliteAdapter({ path: join(dir, `${name}.sqlite`) })));
}

describe('the channel through a relay on loopback', () => {
  it('pairs with the relay ticket and syncs both ways through the relay', async () => {
    const relay = await startRelay({});
    const edge = await sqliteEdge('blind');
    const secure = await SecureEdge.open({ store: edge.store });
    const served = await nodeServeSecureRelay({ url: relay.url, secure, edge: edge.sync });
    for (let i = 0; i < 50; i++) await edge.triangular.saveObserved('pump', `p${i}`, { [FIELD]: 20 + i, note: `${MARKER}-${i}` });
    const store = openStore(new MemoryAdapter());
    const fe = await SecureFrontend.open({ store });
    const offer = await served.createPairingCode();
    await fe.pair(offer.code, nodeRelayDial(relay.url));
    expect(fe.pairing?.token).toBeDefined();
    const sync = frontendOn(store, fe.connector(nodeRelayDial(relay.url)));
    await sync.start();
    await until(async () => (await store.find('pump_observed')).length === 50, 'the replica through the relay');
    await sync.saveDesired('pump', 'p1', { [FIELD]: 99, note: MARKER });
    await until(async () => (await edge.triangular.loadDesired('pump', 'p1'))?.note === MARKER, 'the Desired write through the relay');
    await sync.stop();
    await served.close();
    await relay.close();
  });

  it('a revoked Frontend is cut off at once and refused by the relay and by the Edge; another keeps syncing', async () => {
    const relay = await startRelay({});
    const edge = await sqliteEdge('revoke');
    const secure = await SecureEdge.open({ store: edge.store });
    const served = await nodeServeSecureRelay({ url: relay.url, secure, edge: edge.sync });
    const make = async (): Promise<{ store: Store; fe: SecureFrontend; sync: ReturnType<typeof frontendOn> }> => {
      const store = openStore(new MemoryAdapter());
      const fe = await SecureFrontend.open({ store });
      await fe.pair((await served.createPairingCode()).code, nodeRelayDial(relay.url));
      return { store, fe, sync: frontendOn(store, fe.connector(nodeRelayDial(relay.url))) };
    };
    const bad = await make();
    const good = await make();
    await Promise.all([bad.sync.start(), good.sync.start()]);
    await until(() => bad.sync.status === 'live' && good.sync.status === 'live', 'both live through the relay');
    await secure.revoke(bad.fe.frontendId);
    await until(() => bad.sync.status !== 'live', 'the revoked Frontend to be cut');
    await edge.triangular.saveObserved('pump', 'after', { x: 1 });
    await until(async () => (await good.store.get('pump_observed', 'after')) !== undefined, 'the good Frontend to follow');
    // The relay refuses its token now (REVOKED from the relay connector) ...
    await expect(nodeRelayDial(relay.url)({ edgeId: secure.edgeId, credential: { token: bad.fe.pairing?.token ?? '' } })).rejects.toMatchObject({ code: 'REVOKED' });
    // ... and behind a relay that was never told (a listener without the revoked list), the
    // Edge's handshake still refuses it: the authoritative check.
    const forgetful = await startRelay({});
    const plain = await nodeRelayEdgeListener({ url: forgetful.url, signer: secure.identity, onSession: (tr) => secure.serve(edge.sync, tr) });
    await until(() => plain.status === 'registered', 'the Edge registered at the second relay');
    await expect(bad.fe.connector(nodeRelayDial(forgetful.url))()).rejects.toMatchObject({ code: 'REVOKED', reason: 'revoked' });
    await plain.close();
    await Promise.all([bad.sync.stop(), good.sync.stop()]);
    expect(await bad.store.get('pump_observed', 'after')).toBeUndefined();
    await served.close();
    await relay.close();
    await forgetful.close();
  });
});
