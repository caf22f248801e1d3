/**
 * The encrypted channel: pairing, identities kept in the stores, sessions, refusals (S8) and
 * revocation. In-process transports; the hostile relay is hostile-relay.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { MemoryAdapter, isCseError, openStore } from '@cse/core';
import { Identity, PAIRED_COLLECTION, grantPreset, SecureChannelError, SecureEdge, SecureFrontend, memoryPair, parsePairingCode, relayTicketOf } from '@cse/sync';
import type { RelayAccess, Transport } from '@cse/sync';
import { edgeOn, frontendOn, until } from './helpers.js';
import { pairedFrontend, secureDial, secureMemoryEdge } from './secure-helpers.js';

const failure = (reason: string, code: string) => expect.objectContaining({ code, reason }) as unknown;

describe('identities', () => {
  it('the Edge key is created once and kept in its store; the same key after reopening', async () => {
    const adapter = new MemoryAdapter();
    const a = await SecureEdge.open({ store: openStore(adapter) });
    const b = await SecureEdge.open({ store: openStore(adapter) });
    expect(b.edgeId).toBe(a.edgeId);
    expect(a.edgeId).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // It satisfies the relay's signer contract: SPKI public key, raw 64-byte P-256 signatures.
    const sig = await a.identity.sign(new Uint8Array([1, 2, 3]));
    expect(sig.length).toBe(64);
    const pub = await crypto.subtle.importKey('spki', a.identity.publicKey as BufferSource, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
    expect(await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, pub, sig as BufferSource, new Uint8Array([1, 2, 3]))).toBe(true);
  });

  it('two opens at once end with one key', async () => {
    const adapter = new MemoryAdapter();
    const ids = await Promise.all([0, 1, 2, 3].map(async () => (await Identity.inStore(openStore(adapter))).id));
    expect(new Set(ids).size).toBe(1);
  });

  it('a Frontend cannot subscribe to the channel state: a hello naming _cse_secure is refused (PROTOCOL)', async () => {
    const edge = await secureMemoryEdge();
    await pairedFrontend(edge);
    for (const c of ['_cse_secure', '_cse_paired', '_cse_pairing']) {
      const [a, b] = memoryPair();
      edge.sync.accept(b);
      const got: string[] = [];
      let closed = false;
      a.onmessage = (f) => got.push(f);
      a.onclose = () => {
        closed = true;
      };
      a.send(JSON.stringify({ t: 'hello', v: 1, client: 'c1', epoch: null, collections: [c], cursors: {} }));
      await until(() => closed, 'the Edge to close');
      expect(got.map((f) => (JSON.parse(f) as { t: string; code?: string }).code).filter(Boolean)).toEqual(['PROTOCOL']);
      expect(got.join('')).not.toContain('"d"');
    }
  });

  it('application reads never see the channel state (system collections)', async () => {
    const edge = await secureMemoryEdge();
    await pairedFrontend(edge);
    expect(await edge.store.listCollections()).toEqual([]);
    const page = await edge.store.changesSince(0);
    expect(page.changes).toEqual([]);
  });
});

describe('pairing', () => {
  it('pairs once with a code, then syncs both ways through encrypted sessions', async () => {
    const edge = await secureMemoryEdge();
    await edge.triangular.saveObserved('pump', 'p1', { rpm: 10 });
    const { store, secure } = await pairedFrontend(edge);
    expect(secure.pairing?.edgeId).toBe(edge.secure.edgeId);
    expect((await edge.secure.listPaired()).map((p) => [p.frontendId, p.revoked])).toEqual([[secure.frontendId, false]]);
    const fe = frontendOn(store, secure.connector(secureDial(() => edge)));
    await fe.start();
    await until(async () => (await store.get('pump_observed', 'p1'))?.rpm === 10, 'the replica to get p1');
    await fe.saveDesired('pump', 'p1', { rpm: 20 });
    await until(async () => (await edge.triangular.loadDesired('pump', 'p1'))?.rpm === 20, 'the Edge to get the write');
    expect(edge.secure.sessions(secure.frontendId)).toBe(1);
    await fe.stop();
  });

  it('the pairing survives a reload of the Frontend (its key and the Edge key are in its store)', async () => {
    const edge = await secureMemoryEdge();
    const adapter = new MemoryAdapter();
    const first = await pairedFrontend(edge, openStore(adapter));
    const again = await SecureFrontend.open({ store: openStore(adapter) });
    expect(again.frontendId).toBe(first.secure.frontendId);
    expect(again.pairing?.edgeKey).toBe(first.secure.pairing?.edgeKey);
    const t = await again.connector(secureDial(() => edge))();
    t.close();
  });

  it('a code pairs once; a used, expired or made-up code is refused and pairs nothing', async () => {
    const edge = await secureMemoryEdge();
    const { code } = await edge.secure.createPairingCode();
    const one = await SecureFrontend.open({ store: openStore(new MemoryAdapter()) });
    const two = await SecureFrontend.open({ store: openStore(new MemoryAdapter()) });
    await one.pair(code, secureDial(() => edge));
    await expect(two.pair(code, secureDial(() => edge))).rejects.toEqual(failure('pairing-refused', 'FORBIDDEN'));
    const short = await edge.secure.createPairingCode({ ttlMs: 1 });
    await new Promise((r) => setTimeout(r, 5));
    await expect(two.pair(short.code, secureDial(() => edge))).rejects.toEqual(failure('pairing-refused', 'FORBIDDEN'));
    // Right Edge id, guessed secret.
    await expect(two.pair(`cse1.${edge.secure.edgeId}.AAAAAAAAAAAAAAAAAAAAAA`, secureDial(() => edge))).rejects.toEqual(failure('pairing-refused', 'FORBIDDEN'));
    expect((await edge.secure.listPaired()).map((p) => p.frontendId)).toEqual([one.frontendId]);
    expect(two.pairing).toBeUndefined();
    expect(() => parsePairingCode('cse1.nope')).toThrow(SecureChannelError);
  });

  it('two Frontends racing with one code: exactly one pairs', async () => {
    const edge = await secureMemoryEdge();
    const { code } = await edge.secure.createPairingCode();
    const fes = await Promise.all([0, 1, 2].map(() => SecureFrontend.open({ store: openStore(new MemoryAdapter()) })));
    const results = await Promise.allSettled(fes.map((f) => f.pair(code, secureDial(() => edge))));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(await edge.secure.listPaired()).toHaveLength(1);
  });

  it('dial gets the relay pairing ticket derived from the code, then the token the Edge issued', async () => {
    const edge = await secureMemoryEdge();
    const secureEdge = await SecureEdge.open({ store: edge.store, issueRelayToken: async (frontendId) => `token-for-${frontendId}` });
    const offer = await secureEdge.createPairingCode();
    expect(await relayTicketOf(offer.code)).toBe(offer.relayTicket);
    expect(offer.code).not.toContain(offer.relayTicket);
    const seen: RelayAccess[] = [];
    const dial = async (access: RelayAccess): Promise<Transport> => {
      seen.push(access);
      return secureDial(() => ({ secure: secureEdge, sync: edge.sync }))(access);
    };
    const fe = await SecureFrontend.open({ store: openStore(new MemoryAdapter()) });
    const p = await fe.pair(offer.code, dial);
    expect(p.token).toBe(`token-for-${fe.frontendId}`);
    (await fe.connector(dial)()).close();
    expect(seen).toEqual([
      { edgeId: secureEdge.edgeId, credential: { ticket: offer.relayTicket } },
      { edgeId: secureEdge.edgeId, credential: { token: `token-for-${fe.frontendId}` } },
    ]);
  });
});

describe('refusals', () => {
  it('an unpaired Frontend is refused by the Edge (FORBIDDEN unpaired), and nothing reaches EdgeSync', async () => {
    const edge = await secureMemoryEdge();
    const store = openStore(new MemoryAdapter());
    const stranger = await SecureFrontend.open({ store });
    // It knows the Edge's id (public) and pretends to be paired.
    const { secure: real } = await pairedFrontend(edge);
    await new (await import('@cse/core')).Replica(store).commit([{ collection: '_cse_secure', id: 'edge', kind: 'put', body: { ...real.pairing, token: null } }]);
    const pretender = await SecureFrontend.open({ store });
    expect(pretender.frontendId).toBe(stranger.frontendId);
    const errors: string[] = [];
    edge.secure.onError((e) => errors.push(e.reason));
    await expect(pretender.connector(secureDial(() => edge))()).rejects.toEqual(failure('unpaired', 'FORBIDDEN'));
    expect(errors).toEqual(['unpaired']);
    expect(edge.sync.stats.sessions).toBe(0);
  });

  it('a Frontend given the wrong Edge key refuses that Edge (FORBIDDEN edge-key-mismatch) before revealing itself', async () => {
    const real = await secureMemoryEdge();
    const impostor = await secureMemoryEdge();
    const { store, secure } = await pairedFrontend(real);
    const fe = frontendOn(store, secure.connector(secureDial(() => impostor)));
    await fe.start();
    await until(() => secure.lastError !== undefined, 'the Frontend to refuse the impostor');
    await fe.stop();
    expect(secure.lastError).toEqual(failure('edge-key-mismatch', 'FORBIDDEN'));
    expect(impostor.sync.stats.sessions).toBe(0);
    // A pairing code naming one Edge, dialled to another: refused too.
    const { code } = await real.secure.createPairingCode();
    const other = await SecureFrontend.open({ store: openStore(new MemoryAdapter()) });
    await expect(other.pair(code, secureDial(() => impostor))).rejects.toEqual(failure('edge-key-mismatch', 'FORBIDDEN'));
  });

  it('a connector before pairing rejects with not-paired', async () => {
    const fe = await SecureFrontend.open({ store: openStore(new MemoryAdapter()) });
    await expect(fe.connector(async () => memoryPair()[0])()).rejects.toEqual(failure('not-paired', 'FORBIDDEN'));
  });

  it('garbage instead of a handshake: PROTOCOL, connection closed, nothing applied', async () => {
    const edge = await secureMemoryEdge();
    const [a, b] = memoryPair();
    let closed = false;
    a.onclose = () => {
      closed = true;
    };
    const accepted = edge.secure.accept(b);
    a.send('{"t":"hello","v":1}');
    await expect(accepted).rejects.toEqual(failure('handshake', 'PROTOCOL'));
    await until(() => closed, 'the Edge to hang up');
  });
});

describe('the decrypted transport', () => {
  it('keeps what arrives, and its close, until the consumer sets its handlers', async () => {
    const edge = await secureMemoryEdge();
    const { secure } = await pairedFrontend(edge);
    let edgeSide: Transport | undefined;
    const t = await secure.connector(async () => {
      const [a, b] = memoryPair();
      void edge.secure.accept(b).then(({ transport }) => {
        edgeSide = transport;
        transport.send('first');
        transport.send('second');
        transport.close('done');
      });
      return a;
    })();
    await until(() => edgeSide !== undefined, 'the Edge side');
    await new Promise((r) => setTimeout(r, 30));
    const got: string[] = [];
    let closed = '';
    t.onmessage = (f) => got.push(f);
    t.onclose = (r) => {
      closed = r;
    };
    await until(() => closed !== '', 'the close');
    expect(got).toEqual(['first', 'second']);
  });
});

describe('revocation', () => {
  it('a handshake that passed its check just before the revocation is cut when it completes', async () => {
    const adapter = new MemoryAdapter();
    const inner = adapter.getMany.bind(adapter);
    let gate: Promise<void> | undefined;
    let release = (): void => undefined;
    let held = false;
    // The paired-list read returns its (pre-revocation) snapshot, then waits at the gate.
    adapter.getMany = async (keys) => {
      const r = await inner(keys);
      if (gate !== undefined && keys.some((k) => k.collection === PAIRED_COLLECTION)) {
        const g = gate;
        gate = undefined;
        held = true;
        await g;
      }
      return r;
    };
    const edge = { ...edgeOn(openStore(adapter)), secure: undefined as unknown as SecureEdge };
    edge.secure = await SecureEdge.open({ store: edge.store });
    const { secure } = await pairedFrontend(edge);
    gate = new Promise((r) => (release = r));
    const connecting = secure.connector(secureDial(() => edge))();
    await until(() => held, 'the handshake to read the paired list');
    await edge.secure.revoke(secure.frontendId);
    release();
    const t = await connecting.catch(() => undefined);
    if (t !== undefined) {
      let closed = false;
      t.onclose = () => {
        closed = true;
      };
      await until(() => closed, 'the late session to be cut');
    }
    expect(edge.secure.sessions(secure.frontendId)).toBe(0);
    expect(edge.sync.sessions).toBe(0);
  });

  it('a revoked Frontend is cut off at once and refused afterwards; others keep syncing', async () => {
    const edge = await secureMemoryEdge();
    const bad = await pairedFrontend(edge);
    const good = await pairedFrontend(edge);
    const badFe = frontendOn(bad.store, bad.secure.connector(secureDial(() => edge)));
    const goodFe = frontendOn(good.store, good.secure.connector(secureDial(() => edge)));
    await Promise.all([badFe.start(), goodFe.start()]);
    await until(() => badFe.status === 'live' && goodFe.status === 'live', 'both live');
    const told: string[] = [];
    edge.secure.onRevoke((id) => told.push(id));
    expect(await edge.secure.revoke(bad.secure.frontendId)).toBe(true);
    expect(edge.secure.sessions(bad.secure.frontendId)).toBe(0);
    expect(told).toEqual([bad.secure.frontendId]);
    // The cut session tells the Frontend it is revoked: it stops for good (no retries).
    await until(() => badFe.status === 'revoked', 'the revoked Frontend to stop as revoked');
    await edge.triangular.saveObserved('pump', 'after', { x: 1 });
    await badFe.saveDesired('pump', 'p1', { rpm: 666 });
    // A new attempt with the same key is refused by the Edge's handshake, and the hooks hear it.
    await expect(bad.secure.connector(secureDial(() => edge))()).rejects.toMatchObject({ code: 'REVOKED' });
    expect(bad.secure.lastError?.reason).toBe('revoked');
    await until(async () => (await good.store.get('pump_observed', 'after')) !== undefined, 'the good Frontend to follow');
    await new Promise((r) => setTimeout(r, 100));
    expect(await bad.store.get('pump_observed', 'after')).toBeUndefined();
    expect(await edge.triangular.loadDesired('pump', 'p1')).toBeUndefined();
    expect(await edge.secure.revokedIds()).toEqual([bad.secure.frontendId]);
    const [rec] = await new (await import('@cse/core')).Replica(edge.store).getMany([{ collection: PAIRED_COLLECTION, id: bad.secure.frontendId }]);
    expect(rec?.doc.revoked).toBe(true);
    expect(isCseError(bad.secure.lastError, 'REVOKED')).toBe(true);
    await Promise.all([badFe.stop(), goodFe.stop()]);
  });
});

describe('changes made by another process on the store (followStore)', () => {
  /**
   * An Edge following its store every `intervalMs`, a second SecureEdge on that store (as
   * `cse-edge` in another process), and `look()`, which resolves as the follower starts a look:
   * the next one is at least `intervalMs` away.
   */
  async function followed(intervalMs: number) {
    const edge = await secureMemoryEdge();
    const other = await SecureEdge.open({ store: edge.store });
    const seen = new Set<string>();
    const stop = edge.secure.followStore({ intervalMs, onPairing: (p) => void seen.add(p.label ?? '') });
    let n = 0;
    const look = async (): Promise<void> => {
      const label = `look ${++n}`;
      await other.createPairingCode({ label });
      await until(() => seen.has(label), `the follower's look ${n}`);
    };
    return { edge, other, stop, look };
  }

  it('a Frontend paired and revoked there between two looks is cut at the next look', async () => {
    const { edge, other, stop, look } = await followed(1_500);
    const told: string[] = [];
    edge.secure.onRevoke((id) => told.push(id));
    await look();
    // Between this look and the next: pair, go live, revoked by the other process.
    const { store, secure } = await pairedFrontend(edge);
    const fe = frontendOn(store, secure.connector(secureDial(() => edge)));
    await fe.start();
    await until(() => fe.status === 'live', 'live');
    expect(await other.revoke(secure.frontendId)).toBe(true);
    await until(() => fe.status === 'revoked', `the Frontend to be cut (it says ${fe.status})`);
    expect(edge.secure.sessions(secure.frontendId)).toBe(0);
    expect(told, 'the relay is told (onRevoke), once').toEqual([secure.frontendId]);
    await look();
    await look();
    expect(told).toEqual([secure.frontendId]);
    stop();
    await fe.stop();
  });

  it("a grant changed there between two looks reaches the sessions of a Frontend paired in between", async () => {
    const { edge, other, stop, look } = await followed(1_500);
    await look();
    const { store, secure } = await pairedFrontend(edge);
    const fe = frontendOn(store, secure.connector(secureDial(() => edge)));
    await fe.start();
    await until(() => fe.status === 'live', 'live');
    expect(fe.grant?.preset).toBe('operator');
    expect(await other.grant(secure.frontendId, grantPreset('viewer'))).toBe(true);
    await until(() => fe.grant?.preset === 'viewer', `the narrowed grant to reach the Frontend (it holds ${fe.grant?.preset})`);
    expect(fe.mayWrite('pump')).toBe(false);
    stop();
    await fe.stop();
  });
});

describe('over a real WebSocket on loopback', () => {
  it('serveEdge({ secure }) pairs and syncs a Node Frontend; the identity file is created once with mode 0600', async () => {
    const { serveEdge, nodeWebSocketConnector, loadIdentityFile } = await import('@cse/sync/node');
    const { mkdtempSync, rmSync, statSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'cse-secure-'));
    try {
      const identity = await loadIdentityFile(join(dir, 'edge-key.json'));
      expect(statSync(join(dir, 'edge-key.json')).mode & 0o777).toBe(0o600);
      expect((await loadIdentityFile(join(dir, 'edge-key.json'))).id).toBe(identity.id);
      const edge = await secureMemoryEdge();
      const secureEdge = await SecureEdge.open({ store: edge.store, identity });
      const server = await serveEdge(edge.sync, { secure: secureEdge });
      await edge.triangular.saveObserved('pump', 'p1', { rpm: 3 });
      const store = openStore(new MemoryAdapter());
      const fe = await SecureFrontend.open({ store });
      const dial = nodeWebSocketConnector(server.url);
      await fe.pair((await secureEdge.createPairingCode()).code, dial);
      expect(fe.pairing?.edgeId).toBe(identity.id);
      const sync = frontendOn(store, fe.connector(dial));
      await sync.start();
      await until(async () => (await store.get('pump_observed', 'p1'))?.rpm === 3, 'the replica over the secure WebSocket');
      // A raw (unencrypted) client is refused before EdgeSync sees anything.
      const raw = frontendOn(openStore(new MemoryAdapter()), dial);
      await raw.start();
      await until(() => secureEdge.stats.refused > 0, 'the raw client to be refused');
      await raw.stop();
      await sync.stop();
      await server.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
