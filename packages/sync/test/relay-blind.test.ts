// Blind: the encrypted channel through the relay. Every document carries a marker string; the
// relay's test tap records every frame it received and sent (after WebSocket unmasking, its own
// auth frames included), and the marker, the field names, the collection names and the pairing
// code's secret appear zero times. The same run without the channel is the control: there the
// tap does see them, so the tap is looking at what the relay forwards.
import { MemoryAdapter, openStore } from '@cse/core';
import { startRelay } from '@cse/relay';
import { SecureEdge, SecureFrontend, createRelayToken } from '@cse/sync';
import type { Connect, Transport } from '@cse/sync';
import { nodeRelayConnector, nodeRelayEdgeListener } from '@cse/sync/node';
import { describe, expect, it } from 'vitest';
import { cleanup } from './fixtures/relay-cleanup.js';
import { edgeState, frontendOn, memoryEdge, replicaState, until } from './helpers.js';
import { newSigner, randomFrontendId } from './fixtures/relay-signer.js';


const PUMP = ['pump_desired', 'pump_identity', 'pump_observed'];

function count(haystack: Buffer, needle: string): number {
  let n = 0;
  for (let at = haystack.indexOf(needle); at !== -1; at = haystack.indexOf(needle, at + 1)) n++;
  return n;
}

/** Runs a Frontend following an Edge through a tapped relay; returns every byte the tap saw and the words to look for. */
async function run(encrypted: boolean): Promise<{ tapped: Buffer; words: string[] }> {
  const chunks: Buffer[] = [];
  const relay = await startRelay({ tap: (_direction, data) => chunks.push(Buffer.from(data)) });
  cleanup.push(() => relay.close());
  const marker = `MARKER-${randomFrontendId().slice(0, 12)}`;
  const edge = memoryEdge();
  for (let i = 0; i < 40; i++) {
    await edge.triangular.saveIdentity('pump', `p${i}`, { markerModelField: `${marker} model ${i}` });
    await edge.triangular.saveObserved('pump', `p${i}`, { markerReadingField: `${marker} reading ${i}` });
  }
  const feStore = openStore(new MemoryAdapter());
  const dial = (a: { edgeId: string; credential: { token: string } | { ticket: string } }): Promise<Transport> => nodeRelayConnector({ url: relay.url, ...a })();
  // Metadata names too: protocol 3 sends a change's sync id and version in its envelope only, so the documents' own timestamps stand for them.
  const words = [marker, 'markerModelField', 'markerReadingField', 'markerDesiredField', ...PUMP, '_created_at', '_updated_at', 'cursor'];
  let connect: Connect;
  if (encrypted) {
    const secure: SecureEdge = await SecureEdge.open({ store: edge.store, issueRelayToken: (frontendId) => createRelayToken(secure.identity, { edgeId: secure.edgeId, frontendId }) });
    const listener = await nodeRelayEdgeListener({ url: relay.url, signer: secure.identity, onSession: (t) => secure.serve(edge.sync, t) });
    cleanup.push(() => listener.close());
    secure.onRevoke((frontendId) => void listener.revoke(frontendId));
    const offer = await secure.createPairingCode({ ttlMs: 60_000 });
    await listener.offerPairing(offer.relayTicket, 60_000);
    words.push(offer.code.split('.').pop() as string); // the code's one-time secret
    const frontend = await SecureFrontend.open({ store: feStore });
    await frontend.pair(offer.code, dial);
    connect = frontend.connector(dial);
  } else {
    const signer = await newSigner();
    const listener = await nodeRelayEdgeListener({ url: relay.url, signer, onSession: (t) => edge.sync.accept(t) });
    cleanup.push(() => listener.close());
    const token = await createRelayToken(signer, { edgeId: listener.edgeId, frontendId: randomFrontendId() });
    connect = () => dial({ edgeId: listener.edgeId, credential: { token } });
  }
  const fe = frontendOn(feStore, connect, { subscription: { workerTypes: ['pump'] } });
  cleanup.push(() => fe.stop());
  await fe.start();
  for (let i = 0; i < 10; i++) await fe.saveDesired('pump', `p${i}`, { markerDesiredField: `${marker} desired ${i}` });
  for (let i = 0; i < 10; i++) await edge.triangular.saveObserved('pump', `p${i}`, { markerReadingField: `${marker} live ${i}` });
  await fe.settled();
  const same = (m: Map<string, unknown>): string => JSON.stringify([...m].map(([k, v]) => [k, { ...(v as object), status: undefined }]).sort());
  const want = await edgeState(edge.store, PUMP);
  await until(async () => same(await replicaState(feStore, PUMP, want)) === same(want), 'the replica equals the Edge');
  expect((await edge.triangular.loadDesired('pump', 'p3'))?.markerDesiredField).toBe(`${marker} desired 3`);
  await fe.stop();
  return { tapped: Buffer.concat(chunks), words };
}

describe('the relay is blind', () => {
  it('sees the data without the channel (the control: the tap sees what it forwards)', async () => {
    const { tapped, words } = await run(false);
    expect(tapped.length).toBeGreaterThan(10_000);
    expect(words.filter((w) => count(tapped, w) === 0)).toEqual([]);
  });

  it('sees no marker, field name, collection name or pairing secret through the encrypted channel', async () => {
    const { tapped, words } = await run(true);
    expect(tapped.length).toBeGreaterThan(10_000);
    expect(Object.fromEntries(words.map((w) => [w, count(tapped, w)]))).toEqual(Object.fromEntries(words.map((w) => [w, 0])));
  });
});
