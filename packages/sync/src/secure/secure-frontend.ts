/**
 * SecureFrontend: the Frontend's end of the encrypted channel. It holds the Frontend's identity
 * and what it learned when it paired (the Edge's public key and its relay token), both in the
 * replica's own store (`_cse_secure/identity`, `_cse_secure/edge`), pairs once with a code, and
 * wraps every connection of `FrontendSync` in an authenticated, encrypted session: the Edge's
 * key must be the one the code named, or the connection is refused.
 */
import type { Store } from '@cse/core';
import { CseError, ErrorCode, Replica, isCseError } from '@cse/core';
import type { Connect, ConnectOptions, Transport } from '../transport.js';
import { b64u, fromB64u, fromUtf8, randomBytes, utf8 } from './bytes.js';
import { Identity, SECURE_COLLECTION, keyId, verifySignature } from './identity.js';
import { derivePairing, hmac, parsePairingCode } from './pairing-code.js';
import type { SecureFailure } from './secure-error.js';
import { SecureChannelError } from './secure-error.js';
import { E2F, F2E, Opener, Sealer } from './records.js';
import { FrameReader, SecureTransport } from './secure-transport.js';
import { MODE_PAIRING, MODE_SESSION, decodeServer, edgeSigned, encodeHello, ephemeral, frontendSigned, pairingProofInput, sessionKeys, transcript } from './session-keys.js';

/** How to reach the Edge: its id and the relay credential (a direct connection ignores both). */
export interface RelayAccess {
  readonly edgeId: string;
  readonly credential: { readonly token: string } | { readonly ticket: string };
}

/**
 * Opens a raw connection to the Edge (e.g. `(a) => relayConnector({ url, ...a })(a)`, or any
 * `Connect`); gives up when `access.signal` aborts.
 */
export type Dial = (access: RelayAccess & ConnectOptions) => Promise<Transport>;

export interface SecureFrontendOptions {
  /** The Frontend's local store (the replica's): the identity and the pairing live in it. */
  readonly store: Store;
  /** The Frontend's identity. Default: the one kept in `store` (`_cse_secure/identity`), created on first use. */
  readonly identity?: Identity;
  /** Time the Edge has for each step of the handshake (after `dial`'s own timeout). Default 10 000 ms. */
  readonly handshakeTimeoutMs?: number;
}

/** What the Frontend remembers of its Edge. */
export interface EdgePairing {
  readonly edgeId: string;
  /** The Edge's public key (SPKI, base64url); its SHA-256 is `edgeId`. */
  readonly edgeKey: string;
  /** The relay token the Edge issued, if any. */
  readonly token: string | undefined;
  readonly frontendId: string;
  readonly pairedAt: number;
}

const EDGE_ID = 'edge';

export class SecureFrontend {
  readonly identity: Identity;
  readonly #replica: Replica;
  readonly #timeout: number;
  #pairing: EdgePairing | undefined;
  #lastError: SecureChannelError | undefined;
  readonly #errorListeners = new Set<(e: SecureChannelError) => void>();

  private constructor(options: SecureFrontendOptions, identity: Identity, pairing: EdgePairing | undefined) {
    this.identity = identity;
    this.#replica = new Replica(options.store);
    this.#timeout = options.handshakeTimeoutMs ?? 10_000;
    this.#pairing = pairing;
  }

  static async open(options: SecureFrontendOptions): Promise<SecureFrontend> {
    const identity = options.identity ?? (await Identity.inStore(options.store));
    const [r] = await new Replica(options.store).getMany([{ collection: SECURE_COLLECTION, id: EDGE_ID }]);
    const d = r?.deleted === false ? r.doc : undefined;
    const pairing: EdgePairing | undefined =
      d === undefined
        ? undefined
        : { edgeId: d.edgeId as string, edgeKey: d.edgeKey as string, token: typeof d.token === 'string' ? d.token : undefined, frontendId: d.frontendId as string, pairedAt: d.pairedAt as number };
    return new SecureFrontend(options, identity, pairing);
  }

  /** `base64url(SHA-256(SPKI))` of this Frontend's key: how the Edge lists and revokes it. */
  get frontendId(): string {
    return this.identity.id;
  }

  /** The Edge this Frontend is paired with, if any. */
  get pairing(): EdgePairing | undefined {
    return this.#pairing;
  }

  /** The last handshake or session failure (typed), if any. */
  get lastError(): SecureChannelError | undefined {
    return this.#lastError;
  }

  /**
   * Runs `listener` for every refused handshake, every session torn down by an integrity failure,
   * and a refusal by the relay because this Frontend is revoked (`REVOKED`, reason `revoked`).
   */
  onError(listener: (e: SecureChannelError) => void): () => void {
    this.#errorListeners.add(listener);
    return () => this.#errorListeners.delete(listener);
  }

  /**
   * Pairs with the Edge named in `code` (replacing any earlier pairing): proves the code's secret
   * inside a session whose Edge key must match the code's fingerprint, then stores the Edge's key
   * and relay token. `dial` gets `{ edgeId, credential: { ticket } }` (the relay pairing ticket).
   *
   * @throws `FORBIDDEN` (`edge-key-mismatch`, `bad-signature`, `pairing-refused`), `PROTOCOL`.
   */
  async pair(code: string, dial: Dial): Promise<EdgePairing> {
    const parsed = parsePairingCode(code);
    const derived = await derivePairing(parsed);
    const inner = await dial({ edgeId: parsed.edgeId, credential: { ticket: derived.relayTicket } });
    const { finish, edgeKey, transport } = await this.#handshake(inner, MODE_PAIRING, parsed.edgeId, async (th, spki) => ({ id: derived.id, mac: b64u(await hmac(derived.proofKey, pairingProofInput(th, spki))) }));
    transport.close('paired');
    const pairing: EdgePairing = {
      edgeId: parsed.edgeId,
      edgeKey: b64u(edgeKey),
      token: typeof finish.token === 'string' ? finish.token : undefined,
      frontendId: this.frontendId,
      pairedAt: Date.now(),
    };
    await this.#replica.commit([{ collection: SECURE_COLLECTION, id: EDGE_ID, kind: 'put', body: { ...pairing, token: pairing.token ?? null } }]);
    this.#pairing = { ...pairing };
    return this.#pairing;
  }

  /** Forgets the pairing (the Edge's key and token). */
  async forget(): Promise<void> {
    await this.#replica.commit([{ collection: SECURE_COLLECTION, id: EDGE_ID, kind: 'delete' }]);
    this.#pairing = undefined;
  }

  /**
   * A `Connect` for `FrontendSync`: each call dials (with the relay token) and runs a new
   * authenticated session (new keys per connection). Rejects with a typed error (`not-paired`,
   * `edge-key-mismatch`, `unpaired`, ...; `REVOKED` when the Edge or the relay refuses this
   * Frontend as revoked) and closes the raw connection; gives up when `signal` aborts.
   */
  connector(dial: Dial): Connect {
    return async (co) => {
      const signal = co?.signal;
      const p = this.#pairing;
      if (p === undefined) throw this.#report(new SecureChannelError('not-paired', 'this Frontend is not paired: call pair(code, dial) first'));
      let inner: Transport;
      try {
        inner = await dial({ edgeId: p.edgeId, credential: { token: p.token ?? '' }, ...(signal === undefined ? {} : { signal }) });
      } catch (e) {
        if (isCseError(e, ErrorCode.REVOKED)) throw this.#report(new SecureChannelError('revoked', e.message));
        throw e;
      }
      return (await this.#handshake(inner, MODE_SESSION, p.edgeId, undefined, signal)).transport;
    };
  }

  async #handshake(
    inner: Transport,
    mode: number,
    edgeId: string,
    proof: ((th: Uint8Array, spki: Uint8Array) => Promise<{ id: string; mac: string }>) | undefined,
    signal?: AbortSignal,
  ): Promise<{ transport: SecureTransport; finish: Record<string, unknown>; edgeKey: Uint8Array }> {
    const reader = new FrameReader(inner);
    // An abort closes the raw connection: the reader's next wait ends with it.
    const abort = (): void => inner.close('aborted');
    if (signal?.aborted === true) abort();
    signal?.addEventListener('abort', abort, { once: true });
    try {
      const eph = await ephemeral();
      const hello = encodeHello(mode, eph.raw, randomBytes(32));
      inner.send(b64u(hello));
      const serverBytes = fromB64u(await reader.next(this.#timeout));
      if (serverBytes === undefined) throw new SecureChannelError('handshake', 'a handshake frame that is not base64url');
      const server = decodeServer(serverBytes);
      // The Edge must be the one paired with (or named by the code) before anything about us is sent.
      if ((await keyId(server.spki)) !== edgeId) throw new SecureChannelError('edge-key-mismatch', 'the Edge key does not match the pairing: refusing this Edge');
      const th = transcript(hello, server.signed);
      if (!(await verifySignature(server.spki, edgeSigned(th), server.sig))) throw new SecureChannelError('bad-signature', 'the Edge signature does not verify');
      const keys = await sessionKeys(eph, server.key, th);
      const sealer = new Sealer(keys.f2e, keys.sessionId, F2E);
      const opener = new Opener(keys.e2f, keys.sessionId, E2F);
      const spki = this.identity.publicKey;
      const auth = {
        spki: b64u(spki),
        sig: b64u(await this.identity.sign(frontendSigned(th, spki))),
        ...(proof === undefined ? {} : { pair: await proof(th, spki) }),
        // Offers batch records (several frames per record); an Edge from before them ignores it.
        batch: 1,
      };
      inner.send(await sealer.seal(utf8(JSON.stringify(auth))));
      const finish = parseFinish(await opener.open(await reader.next(this.#timeout)));
      if (finish.ok !== true) {
        const reason = (['unpaired', 'revoked', 'pairing-refused', 'bad-signature'] as const).find((r) => r === finish.reason) ?? 'handshake';
        throw new SecureChannelError(reason as SecureFailure, `the Edge refused: ${typeof finish.message === 'string' ? finish.message.slice(0, 200) : reason}`);
      }
      const transport = new SecureTransport(inner, sealer, opener, reader.drain(), (e) => this.#report(e), finish.batch === 1);
      return { transport, finish, edgeKey: server.spki };
    } catch (e) {
      // An abort is the caller's choice, not a failure of the channel: not reported.
      if (signal?.aborted === true) throw new CseError(ErrorCode.CLOSED, 'the connection attempt was aborted', { details: { reason: 'aborted' } });
      const err = e instanceof SecureChannelError ? e : new SecureChannelError('handshake', `handshake failed: ${e instanceof Error ? e.message : String(e)}`);
      inner.close(`${err.code}: ${err.reason}`);
      throw this.#report(err);
    } finally {
      signal?.removeEventListener('abort', abort);
    }
  }

  #report(e: SecureChannelError): SecureChannelError {
    this.#lastError = e;
    for (const l of this.#errorListeners) {
      try {
        l(e);
      } catch {
        // a listener's failure changes nothing
      }
    }
    return e;
  }
}

function parseFinish(plain: Uint8Array): Record<string, unknown> {
  try {
    const m = JSON.parse(fromUtf8(plain)) as unknown;
    if (typeof m === 'object' && m !== null && !Array.isArray(m)) return m as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new SecureChannelError('handshake', 'a malformed handshake finish');
}

/** `secure.connector(dial)`: a `Connect` whose every connection is an authenticated, encrypted session. */
export function secureConnector(dial: Dial, secure: SecureFrontend): Connect {
  return secure.connector(dial);
}
