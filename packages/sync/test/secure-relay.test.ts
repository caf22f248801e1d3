/**
 * The encrypted channel through a real relay (startRelay on loopback, real WebSockets): pairing
 * with the relay ticket, sync both ways, revocation cutting the Frontend at the relay and at the
 * Edge, and the blind check: every byte the relay received and sent (its test tap) holds no
 * document marker, field name or collection name; the same tap on an unencrypted session
 * does, so the check can fail.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryAdapter, openStore } from '@cse/core';
import type { Store } from '@cse/core';
import { SqliteAdapter } from '@cse/adapter-sqlite';
import { startRelay } from '@cse/relay';
import { SecureEdge, SecureFrontend, createRelayToken } from '@cse/sync';
import { nodeRelayConnector, nodeRelayDial, nodeRelayEdgeListener, nodeServeSecureRelay } from '@cse/sync/node';
import { edgeOn, frontendOn, until } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'cse-secure-relay-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const MARKER = 'zq-marker-7f3a9c1e-d2b4';
const FIELD = 'temperatureSetpointZq';

function tapped(): { tap: (d: 'in' | 'out', data: Uint8Array) => void; count: (needle: string) => number; bytes: () => number } {
  const chunks: Buffer[] = [];
  return {
    tap: (_d, data) => void chunks.push(Buffer.from(data)),
    count: (needle) => {
      const all = Buffer.concat(chunks);
      let n = 0;
      for (let at = all.indexOf(needle); at !== -1; at = all.indexOf(needle, at + 1)) n++;
      return n;
    },
    bytes: () => chunks.reduce((n, c) => n + c.length, 0),
  };
}

async function sqliteEdge(name: string): Promise<ReturnType<typeof edgeOn>> {
  return edgeOn(openStore(new SqliteAdapter({ path: join(dir, `${name}.sqlite`) })));
}

describe('the channel through a relay on loopback', () => {
  it('pairs, syncs both ways, and the relay sees no marker, field or collection name', async () => {
    const t = tapped();
    const relay = await startRelay({ tap: t.tap });
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
    expect(t.bytes()).toBeGreaterThan(50 * MARKER.length);
    for (const needle of [MARKER, FIELD, 'pump_observed', 'pump_desired', 'pump_identity', '"changes"', '"cursors"']) expect(t.count(needle), needle).toBe(0);
  });

  it('control: the same tap on a session without the channel finds the marker (the check can fail)', async () => {
    const t = tapped();
    const relay = await startRelay({ tap: t.tap });
    const edge = await sqliteEdge('control');
    const secure = await SecureEdge.open({ store: edge.store });
    const listener = await nodeRelayEdgeListener({ url: relay.url, signer: secure.identity, onSession: (tr) => void edge.sync.accept(tr) });
    await edge.triangular.saveObserved('pump', 'p1', { [FIELD]: 1, note: MARKER });
    const token = await createRelayToken(secure.identity, { edgeId: secure.edgeId, frontendId: 'A'.repeat(43) });
    const store = openStore(new MemoryAdapter());
    const sync = frontendOn(store, nodeRelayConnector({ url: relay.url, edgeId: secure.edgeId, credential: { token } }));
    await sync.start();
    await until(async () => (await store.get('pump_observed', 'p1')) !== undefined, 'the plaintext replica');
    await sync.stop();
    await listener.close();
    await relay.close();
    expect(t.count(MARKER)).toBeGreaterThan(0);
    expect(t.count('pump_observed')).toBeGreaterThan(0);
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
    // The relay refuses its token now (FORBIDDEN from the relay connector) ...
    await expect(nodeRelayDial(relay.url)({ edgeId: secure.edgeId, credential: { token: bad.fe.pairing?.token ?? '' } })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    // ... and behind a relay that was never told (a listener without the revoked list), the
    // Edge's handshake still refuses it: the authoritative check.
    const forgetful = await startRelay({});
    const plain = await nodeRelayEdgeListener({ url: forgetful.url, signer: secure.identity, onSession: (tr) => secure.serve(edge.sync, tr) });
    await until(() => plain.status === 'registered', 'the Edge registered at the second relay');
    await expect(bad.fe.connector(nodeRelayDial(forgetful.url))()).rejects.toMatchObject({ code: 'FORBIDDEN', reason: 'revoked' });
    await plain.close();
    await Promise.all([bad.sync.stop(), good.sync.stop()]);
    expect(await bad.store.get('pump_observed', 'after')).toBeUndefined();
    await served.close();
    await relay.close();
    await forgetful.close();
  });
});
