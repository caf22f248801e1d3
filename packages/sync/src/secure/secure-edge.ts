/**
 * SecureEdge: the Edge's end of the encrypted channel. It holds the Edge's identity, makes
 * one-time pairing codes, keeps the list of paired Frontends (all in the Edge's store, system
 * collections `_cse_secure`, `_cse_pairing`, `_cse_paired`), authenticates every connection
 * before `EdgeSync` sees a frame, and cuts a revoked Frontend's live sessions at once.
 */
import type { Store } from '@cse/core';
import { Replica, isCseError } from '@cse/core';
import { secureAdmin } from '../admin.js';
import type { EdgeSession, EdgeSync } from '../edge-sync.js';
import type { Grant } from '../grants.js';
import { canonicalGrant, grantPreset, normalizeGrant, sameGrant } from '../grants.js';
import { createRelayToken } from '../relay-transport.js';
import type { Transport } from '../transport.js';
import { b64u, concat, equalBytes, fromB64u, fromUtf8, randomBytes, utf8 } from './bytes.js';
import { signGrant, verifiedGrant } from './grant-record.js';
import { Identity, keyId, verifySignature } from './identity.js';
import { derivePairing, formatPairingCode, hmac, newPairingSecret } from './pairing-code.js';
import { E2F, F2E, Opener, Sealer } from './records.js';
import { SecureChannelError } from './secure-error.js';
import { FrameReader, SecureTransport } from './secure-transport.js';
import { MODE_PAIRING, decodeHello, edgeSigned, encodeServerUnsigned, ephemeral, frontendSigned, pairingProofInput, sessionKeys, transcript } from './session-keys.js';

/** Pairing codes waiting to be used (id: the code's derived id). */
export const PAIRING_COLLECTION = '_cse_pairing';
/** Paired Frontends (id: the Frontend id). */
export const PAIRED_COLLECTION = '_cse_paired';

export interface SecureEdgeOptions {
  /** The Edge's store: identity, pairing codes and the paired list live in it. */
  readonly store: Store;
  /** The Edge's identity. Default: the one kept in `store` (`_cse_secure/identity`), created on first use. */
  readonly identity?: Identity;
  /** Time a connection has to complete the handshake. Default 10 000 ms. */
  readonly handshakeTimeoutMs?: number;
  /**
   * Makes the relay token handed to a Frontend when it pairs (inside the encrypted channel).
   * Default: `createRelayToken(identity, { edgeId, frontendId })`, without expiry (the relay
   * refuses it once the Frontend is revoked).
   */
  readonly issueRelayToken?: (frontendId: string) => Promise<string | undefined>;
}

export interface PairingOffer {
  /** What the user enters on the Frontend: `cse1.<edgeId>.<secret>`. Show it once; never log it. */
  readonly code: string;
  readonly edgeId: string;
  /** Epoch milliseconds after which the code is refused. */
  readonly expiresAt: number;
  /** For the relay: `relayEdge.offerPairing(relayTicket, ttlMs)` admits one pairing connection. */
  readonly relayTicket: string;
  /** What the Frontend that pairs with this code may do. */
  readonly grant: Grant;
}

export interface PairingCodeOptions {
  /** Default 10 minutes. */
  readonly ttlMs?: number;
  /** Shown in `listPaired()` and in logs. Default: the grant's label. */
  readonly label?: string;
  /** What the Frontend that pairs may read and write. Default `grantPreset('operator')` (read all, write all Desired). */
  readonly grant?: Grant;
}

/** A pairing code waiting in the store (made by this process or another one on the same store). */
export interface PendingPairing {
  /** The code's derived id (not the code). */
  readonly id: string;
  readonly relayTicket: string | undefined;
  readonly expiresAt: number;
  readonly label: string | undefined;
}

export interface PairedFrontend {
  readonly frontendId: string;
  readonly label: string | undefined;
  readonly pairedAt: number;
  readonly revoked: boolean;
  readonly revokedAt: number | undefined;
  /** What it may read and write (checked against the Edge's signature; `undefined` if the stored grant fails the check: the Frontend is refused). */
  readonly grant: Grant | undefined;
}

export interface SecureEdgeStats {
  /** Handshakes completed (sessions opened). */
  sessions: number;
  /** Handshakes refused or failed. */
  refused: number;
  /** Sessions torn down by an integrity failure (tampering, replay, gap). */
  integrityFailures: number;
  /** Frontends paired by this process. */
  pairings: number;
}

export interface SecureSessionInfo {
  readonly frontendId: string;
  /** True for the connection that paired the Frontend (it carries no sync session after the pairing). */
  readonly pairing: boolean;
  /** Its grant, as the Edge's store holds it when the session began. */
  readonly grant: Grant;
  readonly label: string | undefined;
}

type ErrorListener = (e: SecureChannelError, frontendId: string | undefined) => void;

export class SecureEdge {
  readonly identity: Identity;
  readonly stats: SecureEdgeStats = { sessions: 0, refused: 0, integrityFailures: 0, pairings: 0 };
  readonly #store: Store;
  readonly #replica: Replica;
  readonly #timeout: number;
  readonly #issue: (frontendId: string) => Promise<string | undefined>;
  readonly #live = new Map<string, Set<SecureTransport>>();
  /** Revoked in this process: a handshake that passed its check just before the revocation is cut when it completes. */
  readonly #revokedHere = new Set<string>();
  readonly #revokeListeners = new Set<(frontendId: string) => void>();
  readonly #errorListeners = new Set<ErrorListener>();
  readonly #grantListeners = new Set<(frontendId: string, grant: Grant) => void>();
  readonly #sessionListeners = new Set<(session: EdgeSession, info: SecureSessionInfo) => void>();
  /** The EdgeSyncs `serve` handed sessions to: a grant change reaches their live sessions. */
  readonly #edges = new Set<EdgeSync>();
  /** The last grant applied to live sessions, per Frontend (its canonical text, the grant, and `#grantSeq` when it was applied). */
  readonly #appliedGrants = new Map<string, { text: string; grant: Grant; seq: number }>();
  /** Counts the grant changes applied, so a handshake can tell which came while it ran. */
  #grantSeq = 0;

  private constructor(options: SecureEdgeOptions, identity: Identity) {
    this.identity = identity;
    this.#store = options.store;
    this.#replica = new Replica(options.store);
    this.#timeout = options.handshakeTimeoutMs ?? 10_000;
    this.#issue = options.issueRelayToken ?? ((frontendId) => createRelayToken(identity, { edgeId: identity.id, frontendId }));
  }

  static async open(options: SecureEdgeOptions): Promise<SecureEdge> {
    return new SecureEdge(options, options.identity ?? (await Identity.inStore(options.store)));
  }

  /** `base64url(SHA-256(SPKI))` of the Edge key: its id at the relay and in pairing codes. */
  get edgeId(): string {
    return this.identity.id;
  }

  /**
   * A one-time pairing code, valid for `ttlMs` (default 10 minutes), kept (as derived keys, not
   * the secret) in the Edge's store. The first Frontend that proves it pairs; then it is gone.
   */
  async createPairingCode(options: PairingCodeOptions = {}): Promise<PairingOffer> {
    const ttlMs = options.ttlMs ?? 10 * 60_000;
    if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new SecureChannelError('malformed', 'ttlMs is a positive number of milliseconds');
    const grant = normalizeGrant(options.grant ?? grantPreset('operator'));
    const label = options.label ?? grant.label;
    const secret = newPairingSecret();
    const derived = await derivePairing({ edgeId: this.edgeId, secret });
    const expiresAt = Date.now() + ttlMs;
    const now = Date.now();
    const stale = (await this.#replica.scan(PAIRING_COLLECTION)).filter((r) => !r.deleted && !((r.doc.expiresAt as number) > now));
    await this.#replica.commit([
      ...stale.map((r) => ({ collection: PAIRING_COLLECTION, id: r.id, kind: 'delete' as const })),
      // The relay ticket is kept too, so a serving process can offer a code another process made
      // (it opens nothing on the Edge: the proof key does, and that is here already).
      {
        collection: PAIRING_COLLECTION,
        id: derived.id,
        kind: 'put',
        body: { proofKey: b64u(derived.proofKey), expiresAt, relayTicket: derived.relayTicket, grant, ...(label === undefined ? {} : { label }) },
      },
    ]);
    const code = formatPairingCode(this.edgeId, secret);
    secret.fill(0);
    return { code, edgeId: this.edgeId, expiresAt, relayTicket: derived.relayTicket, grant };
  }

  /** Pairing codes not used yet and not expired (those of other processes on this store too). */
  async pendingPairings(): Promise<PendingPairing[]> {
    const now = Date.now();
    return (await this.#replica.scan(PAIRING_COLLECTION))
      .filter((r) => !r.deleted && (r.doc.expiresAt as number) > now)
      .map((r) => ({
        id: r.id,
        relayTicket: typeof r.doc.relayTicket === 'string' ? r.doc.relayTicket : undefined,
        expiresAt: r.doc.expiresAt as number,
        label: typeof r.doc.label === 'string' ? r.doc.label : undefined,
      }));
  }

  /**
   * Changes what a paired Frontend may do, at once: stored (signed by the Edge key), then applied
   * to its live sessions (`EdgeSync.setGrant`) and `onGrant` listeners run. False if it was never
   * paired. @throws `VALIDATION` for a malformed grant.
   */
  async grant(frontendId: string, grant: Grant): Promise<boolean> {
    const g = normalizeGrant(grant);
    const [r] = await this.#replica.getMany([{ collection: PAIRED_COLLECTION, id: frontendId }]);
    if (r === undefined || r.deleted) return false;
    await this.#replica.commit([{ collection: PAIRED_COLLECTION, id: frontendId, kind: 'put', body: { ...r.doc, ...(await signGrant(this.identity, frontendId, g)) } }]);
    this.#grantChanged(frontendId, g);
    return true;
  }

  #grantChanged(frontendId: string, grant: Grant): void {
    // Made here and then seen again by followStore: applied once.
    const text = canonicalGrant(grant);
    if (this.#appliedGrants.get(frontendId)?.text === text) return;
    this.#appliedGrants.set(frontendId, { text, grant, seq: ++this.#grantSeq });
    for (const edge of this.#edges) edge.setGrant(frontendId, grant);
    for (const l of this.#grantListeners) {
      try {
        l(frontendId, grant);
      } catch {
        // a listener's failure does not undo the change
      }
    }
  }

  /** Runs `listener(session, info)` for each sync session `serve` starts (`session.ended` tells its end). Returns an unsubscribe function. */
  onSession(listener: (session: EdgeSession, info: SecureSessionInfo) => void): () => void {
    this.#sessionListeners.add(listener);
    return () => this.#sessionListeners.delete(listener);
  }

  /** Runs `listener(frontendId, grant)` after each grant change. Returns an unsubscribe function. */
  onGrant(listener: (frontendId: string, grant: Grant) => void): () => void {
    this.#grantListeners.add(listener);
    return () => this.#grantListeners.delete(listener);
  }

  /**
   * Picks up what other processes did to this store (a second process running `cse-edge pair`,
   * `grant` or `revoke` while this one serves): every `intervalMs` (default 250) it calls
   * `onPairing` once for each new pending pairing code, and applies grant changes and
   * revocations made elsewhere as if they were made here. Returns the stop function.
   */
  followStore(options: { intervalMs?: number; onPairing?: (p: PendingPairing) => void | Promise<void>; onError?: (e: unknown) => void } = {}): () => void {
    const seenCodes = new Set<string>();
    const known = new Map<string, { revoked: boolean; grant: Grant | undefined }>();
    let first = true;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async (): Promise<void> => {
      for (const p of await this.pendingPairings()) {
        if (seenCodes.has(p.id)) continue;
        seenCodes.add(p.id);
        await options.onPairing?.(p);
      }
      for (const f of await this.listPaired()) {
        const before = known.get(f.frontendId);
        known.set(f.frontendId, { revoked: f.revoked, grant: f.grant });
        if (f.revoked) {
          // Revoked elsewhere: applied here once, whenever it is first seen. A Frontend paired and
          // revoked between two looks (never seen unrevoked) has a live session to cut too.
          if (this.#revokedHere.has(f.frontendId)) continue;
          if (first) {
            // Revoked before this process followed the store: nothing to tell, but cut what is live.
            this.#cut(f.frontendId);
          } else await this.revoke(f.frontendId);
          continue;
        }
        if (first || f.grant === undefined) continue;
        if (before === undefined) {
          // Paired since the last look: its sessions hold the grant their handshake read, which
          // may be older than this one (`#grantChanged` does nothing when it is the same).
          if (this.#live.has(f.frontendId)) this.#grantChanged(f.frontendId, f.grant);
        } else if (before.grant === undefined || !sameGrant(before.grant, f.grant)) this.#grantChanged(f.frontendId, f.grant);
      }
      first = false;
    };
    const loop = (): void => {
      if (stopped) return;
      tick()
        .catch((e: unknown) => options.onError?.(e))
        .finally(() => {
          if (!stopped) timer = setTimeout(loop, options.intervalMs ?? 250);
        });
    };
    loop();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }

  /** Every Frontend ever paired, revoked ones included (marked), with its grant. */
  async listPaired(): Promise<PairedFrontend[]> {
    const records = (await this.#replica.scan(PAIRED_COLLECTION)).filter((r) => !r.deleted);
    return Promise.all(
      records.map(async (r) => ({
        frontendId: r.id,
        label: typeof r.doc.label === 'string' ? r.doc.label : undefined,
        pairedAt: r.doc.pairedAt as number,
        revoked: r.doc.revoked === true,
        revokedAt: typeof r.doc.revokedAt === 'number' ? r.doc.revokedAt : undefined,
        grant: await verifiedGrant(this.identity, r.id, r.doc).catch(() => undefined),
      })),
    );
  }

  /** The ids of revoked Frontends (for the relay, which refuses their tokens). */
  async revokedIds(): Promise<string[]> {
    return (await this.listPaired()).filter((p) => p.revoked).map((p) => p.frontendId);
  }

  /**
   * Revokes a Frontend: refused from now on (kept in the store), its live sessions cut at once,
   * then `onRevoke` listeners run (to tell the relay). False if it was never paired.
   */
  async revoke(frontendId: string): Promise<boolean> {
    const [r] = await this.#replica.getMany([{ collection: PAIRED_COLLECTION, id: frontendId }]);
    if (r === undefined || r.deleted) return false;
    this.#revokedHere.add(frontendId);
    if (r.doc.revoked !== true) {
      await this.#replica.commit([{ collection: PAIRED_COLLECTION, id: frontendId, kind: 'put', body: { ...r.doc, revoked: true, revokedAt: Date.now() } }]);
    }
    this.#cut(frontendId);
    for (const l of this.#revokeListeners) {
      try {
        l(frontendId);
      } catch {
        // a listener's failure does not undo the revocation
      }
    }
    return true;
  }

  /** Marks `frontendId` revoked in this process and cuts its live sessions. */
  #cut(frontendId: string): void {
    this.#revokedHere.add(frontendId);
    for (const t of this.#live.get(frontendId) ?? []) t.abort(new SecureChannelError('revoked', 'this Frontend was revoked'));
    this.#live.delete(frontendId);
  }

  /** Runs `listener(frontendId)` after each revocation. Returns an unsubscribe function. */
  onRevoke(listener: (frontendId: string) => void): () => void {
    this.#revokeListeners.add(listener);
    return () => this.#revokeListeners.delete(listener);
  }

  /** Runs `listener` for every refused handshake and every session torn down by an integrity failure. */
  onError(listener: ErrorListener): () => void {
    this.#errorListeners.add(listener);
    return () => this.#errorListeners.delete(listener);
  }

  /** Live secure sessions (of one Frontend, or all). */
  sessions(frontendId?: string): number {
    if (frontendId !== undefined) return this.#live.get(frontendId)?.size ?? 0;
    let n = 0;
    for (const s of this.#live.values()) n += s.size;
    return n;
  }

  /**
   * Runs the handshake on `transport` and resolves to the decrypted transport and who is on it.
   * A pairing connection resolves too (`pairing: true`), already closing: it carries no session.
   *
   * @throws `REVOKED` (`revoked`), `FORBIDDEN` (`unpaired`, `bad-signature`, `pairing-refused`) or `PROTOCOL`
   *   (`handshake`, `tampered`, ...): the transport is closed.
   */
  async accept(transport: Transport): Promise<{ transport: Transport; info: SecureSessionInfo }> {
    const reader = new FrameReader(transport);
    let frontendId: string | undefined;
    let finish: ((body: Record<string, unknown>) => Promise<void>) | undefined;
    try {
      const helloBytes = fromB64u(await reader.next(this.#timeout));
      if (helloBytes === undefined) throw new SecureChannelError('handshake', 'a handshake frame that is not base64url');
      const hello = decodeHello(helloBytes);
      const eph = await ephemeral();
      const unsigned = encodeServerUnsigned(eph.raw, randomBytes(32), this.identity.publicKey);
      const th = transcript(hello.bytes, unsigned);
      const sig = await this.identity.sign(edgeSigned(th));
      transport.send(b64u(concat(unsigned, sig)));
      const keys = await sessionKeys(eph, hello.key, th);
      const sealer = new Sealer(keys.e2f, keys.sessionId, E2F);
      const opener = new Opener(keys.f2e, keys.sessionId, F2E);
      finish = async (body) => transport.send(await sealer.seal(utf8(JSON.stringify(body))));
      const auth = parseAuth(await opener.open(await reader.next(this.#timeout)));
      if (!(await verifySignature(auth.spki, frontendSigned(th, auth.spki), auth.sig))) throw new SecureChannelError('bad-signature', 'the Frontend signature does not verify');
      frontendId = await keyId(auth.spki);
      const pairing = hello.mode === MODE_PAIRING;
      let token: string | undefined;
      let paired: { grant: Grant; label: string | undefined };
      if (pairing) {
        if (auth.pair === undefined) throw new SecureChannelError('pairing-refused', 'a pairing handshake without a pairing proof');
        paired = await this.#pair(auth.pair, frontendId, th, auth.spki);
        token = await this.#issue(frontendId);
      } else {
        paired = await this.#checkPaired(frontendId);
      }
      // Batch records when the Frontend offers them (a Frontend from before them does not, and gets one record per frame).
      await finish({ ok: true, frontendId, ...(token === undefined ? {} : { token }), ...(auth.batch ? { batch: 1 } : {}) });
      const secure = new SecureTransport(transport, sealer, opener, reader.drain(), (e) => this.#report(e, frontendId, true), auth.batch);
      this.stats.sessions++;
      // A pairing connection carries nothing else: the finish goes out, then the Edge hangs up.
      if (pairing) secure.close('paired');
      else {
        this.#track(frontendId, secure);
        if (this.#revokedHere.has(frontendId)) secure.abort(new SecureChannelError('revoked', 'this Frontend was revoked'));
      }
      return { transport: secure, info: { frontendId, pairing, ...paired } };
    } catch (e) {
      const err = e instanceof SecureChannelError ? e : new SecureChannelError('handshake', `handshake failed: ${e instanceof Error ? e.message : String(e)}`);
      // Tell the Frontend why (inside the channel, when it got that far), then hang up.
      if (finish !== undefined && (err.code === 'FORBIDDEN' || err.code === 'REVOKED')) await finish({ ok: false, reason: err.reason, message: err.message }).catch(() => undefined);
      transport.close(`${err.code}: ${err.reason}`);
      this.#report(err, frontendId, false);
      throw err;
    }
  }

  /** `accept`, then hands the session to `edge` (a pairing connection is closed once paired). Failures go to `onError`. */
  serve(edge: EdgeSync, transport: Transport): void {
    this.#edges.add(edge);
    const since = this.#grantSeq;
    this.accept(transport).then(
      ({ transport: t, info }) => {
        if (info.pairing) return;
        const session = edge.accept(t, { frontendId: info.frontendId, grant: info.grant, admin: secureAdmin(this, edge.registry) });
        // A grant changed while this handshake ran (after it read the pairing record, before the
        // session was live to hear `setGrant`): the session is held to the newer grant before its
        // hello is checked, so a narrowing is never missed by a Frontend that was reconnecting.
        const latest = this.#appliedGrants.get(info.frontendId);
        // (Only a change applied since the handshake began: an older one is what the record held.)
        if (latest !== undefined && latest.seq > since && (info.grant === undefined || canonicalGrant(info.grant) !== latest.text)) session.setGrant(latest.grant);
        // Otherwise the record's grant is what its sessions hold now: `#grantChanged` and
        // `followStore` compare with it. An older entry (a grant applied before the Frontend was
        // revoked and paired again) would hide a change back to that grant. The seq stays, so a
        // handshake still running that read the record before that change still catches up.
        else if (info.grant !== undefined) this.#appliedGrants.set(info.frontendId, { text: canonicalGrant(info.grant), grant: info.grant, seq: latest?.seq ?? 0 });
        for (const l of this.#sessionListeners) {
          try {
            l(session, info);
          } catch {
            // a listener's failure changes nothing
          }
        }
      },
      () => undefined,
    );
  }

  #track(frontendId: string, t: SecureTransport): void {
    let set = this.#live.get(frontendId);
    if (set === undefined) this.#live.set(frontendId, (set = new Set()));
    set.add(t);
    t.whenEnded(() => {
      set.delete(t);
      if (set.size === 0 && this.#live.get(frontendId) === set) this.#live.delete(frontendId);
    });
  }

  async #checkPaired(frontendId: string): Promise<{ grant: Grant; label: string | undefined }> {
    const [r] = await this.#replica.getMany([{ collection: PAIRED_COLLECTION, id: frontendId }]);
    if (r === undefined || r.deleted) throw new SecureChannelError('unpaired', 'this Frontend is not paired with this Edge');
    if (r.doc.revoked === true) throw new SecureChannelError('revoked', 'this Frontend was revoked');
    return { grant: await verifiedGrant(this.identity, frontendId, r.doc), label: typeof r.doc.label === 'string' ? r.doc.label : undefined };
  }

  async #pair(pair: { id: string; mac: Uint8Array }, frontendId: string, th: Uint8Array, spki: Uint8Array): Promise<{ grant: Grant; label: string | undefined }> {
    const [r] = await this.#replica.getMany([{ collection: PAIRING_COLLECTION, id: pair.id }]);
    const refused = (why: string): SecureChannelError => new SecureChannelError('pairing-refused', `pairing refused: ${why}`);
    if (r === undefined || r.deleted) throw refused('unknown or used pairing code');
    if (!((r.doc.expiresAt as number) > Date.now())) throw refused('the pairing code expired');
    const key = fromB64u(r.doc.proofKey as string);
    if (key === undefined || !equalBytes(await hmac(key, pairingProofInput(th, spki)), pair.mac)) throw refused('wrong pairing proof');
    // A code from before grants carries none: what every Frontend could do then.
    const grant = r.doc.grant === undefined ? grantPreset('operator') : normalizeGrant(r.doc.grant);
    const label = typeof r.doc.label === 'string' ? r.doc.label : undefined;
    const signed = await signGrant(this.identity, frontendId, grant);
    try {
      // Single use: consuming the code and recording the Frontend are one commit; of two
      // concurrent pairings with one code, one wins.
      await this.#replica.commit([
        { collection: PAIRING_COLLECTION, id: pair.id, kind: 'delete', expect: { kind: 'version', version: r.version } },
        { collection: PAIRED_COLLECTION, id: frontendId, kind: 'put', body: { pairedAt: Date.now(), revoked: false, ...signed, ...(label === undefined ? {} : { label }) } },
      ]);
    } catch (e) {
      if (isCseError(e, 'CONFLICT')) throw refused('the pairing code was used concurrently');
      throw e;
    }
    this.#revokedHere.delete(frontendId); // paired again with a new code: the operator let it back in
    this.stats.pairings++;
    return { grant, label };
  }

  #report(e: SecureChannelError, frontendId: string | undefined, integrity: boolean): void {
    if (integrity) {
      if (e.reason !== 'revoked') this.stats.integrityFailures++;
    } else {
      this.stats.refused++;
    }
    for (const l of this.#errorListeners) {
      try {
        l(e, frontendId);
      } catch {
        // a listener's failure changes nothing
      }
    }
  }

  /** The store the channel keeps its state in. */
  get store(): Store {
    return this.#store;
  }
}

function parseAuth(plain: Uint8Array): { spki: Uint8Array; sig: Uint8Array; pair: { id: string; mac: Uint8Array } | undefined; batch: boolean } {
  let m: unknown;
  try {
    m = JSON.parse(fromUtf8(plain));
  } catch {
    throw new SecureChannelError('handshake', 'a malformed client authentication');
  }
  const o = m as { spki?: unknown; sig?: unknown; pair?: { id?: unknown; mac?: unknown }; batch?: unknown };
  const spki = typeof o.spki === 'string' ? fromB64u(o.spki) : undefined;
  const sig = typeof o.sig === 'string' ? fromB64u(o.sig) : undefined;
  if (spki === undefined || sig === undefined || spki.length > 200) throw new SecureChannelError('handshake', 'a malformed client authentication');
  let pair: { id: string; mac: Uint8Array } | undefined;
  if (o.pair !== undefined) {
    const mac = typeof o.pair?.mac === 'string' ? fromB64u(o.pair.mac) : undefined;
    if (typeof o.pair?.id !== 'string' || o.pair.id.length > 64 || fromB64u(o.pair.id) === undefined || mac === undefined) throw new SecureChannelError('handshake', 'a malformed pairing proof');
    pair = { id: o.pair.id, mac };
  }
  return { spki, sig, pair, batch: o.batch === 1 };
}

/** `secure.accept(transport)` resolving to the decrypted transport alone. */
export async function secureAccept(transport: Transport, secure: SecureEdge): Promise<Transport> {
  return (await secure.accept(transport)).transport;
}
