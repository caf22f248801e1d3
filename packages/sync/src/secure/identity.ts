/**
 * A long-term identity: an ECDSA P-256 key pair (WebCrypto). The Edge has one, each Frontend has
 * one; its id is `base64url(SHA-256(SPKI))`, the fingerprint a pairing code names. Kept in the
 * owner's own store (a system collection) or handed in by the caller; the private key is held as
 * a non-extractable `CryptoKey` once loaded and is never logged or sent.
 */
import type { Store } from '@cse/core';
import { Replica, isCseError } from '@cse/core';
import { b64u, bs } from './bytes.js';
import { SecureChannelError } from './secure-error.js';

/** The system collection where the channel keeps its keys and lists. */
export const SECURE_COLLECTION = '_cse_secure';

const ECDSA = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** `base64url(SHA-256(spki))`: the id of a public key (the Edge id, a Frontend id). */
export async function keyId(spki: Uint8Array): Promise<string> {
  return b64u(new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', bs(spki))));
}

/** Verifies a raw (P1363) ECDSA P-256 / SHA-256 signature by the key `spki`. False for any bad input. */
export async function verifySignature(spki: Uint8Array, data: Uint8Array, signature: Uint8Array): Promise<boolean> {
  try {
    const key = await globalThis.crypto.subtle.importKey('spki', bs(spki), ECDSA, false, ['verify']);
    return await globalThis.crypto.subtle.verify(SIGN, key, bs(signature), bs(data));
  } catch {
    return false;
  }
}

export class Identity {
  /** SPKI DER of the public key. */
  readonly publicKey: Uint8Array;
  /** `base64url(SHA-256(publicKey))`. */
  readonly id: string;
  readonly #private: CryptoKey;

  private constructor(privateKey: CryptoKey, publicKey: Uint8Array, id: string) {
    this.#private = privateKey;
    this.publicKey = publicKey;
    this.id = id;
  }

  /** Signs `data`: ECDSA P-256 / SHA-256, raw 64-byte (P1363) signature (the `RelaySigner` contract). */
  async sign(data: Uint8Array): Promise<Uint8Array> {
    return new Uint8Array(await globalThis.crypto.subtle.sign(SIGN, this.#private, bs(data)));
  }

  /** An identity from a private JWK (with `x`, `y`, `d`). The private key is imported non-extractable. */
  static async fromJwk(jwk: JsonWebKey): Promise<Identity> {
    if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || typeof jwk.d !== 'string' || typeof jwk.x !== 'string' || typeof jwk.y !== 'string') {
      throw new SecureChannelError('malformed', 'an identity key is an EC P-256 private JWK');
    }
    const subtle = globalThis.crypto.subtle;
    const priv = await subtle.importKey('jwk', { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, d: jwk.d }, ECDSA, false, ['sign']);
    const pub = await subtle.importKey('jwk', { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y }, ECDSA, true, ['verify']);
    const spki = new Uint8Array(await subtle.exportKey('spki', pub));
    return new Identity(priv, spki, await keyId(spki));
  }

  /** An identity from an existing key pair (e.g. a non-extractable pair the application keeps elsewhere). */
  static async fromKeyPair(pair: CryptoKeyPair): Promise<Identity> {
    const spki = new Uint8Array(await globalThis.crypto.subtle.exportKey('spki', pair.publicKey));
    return new Identity(pair.privateKey, spki, await keyId(spki));
  }

  /** A new random identity and its private JWK (to store: it is the only copy). */
  static async generate(): Promise<{ identity: Identity; jwk: JsonWebKey }> {
    const pair = (await globalThis.crypto.subtle.generateKey(ECDSA, true, ['sign', 'verify'])) as CryptoKeyPair;
    const jwk = await globalThis.crypto.subtle.exportKey('jwk', pair.privateKey);
    return { identity: await Identity.fromJwk(jwk), jwk };
  }

  /**
   * The identity kept in `store` under `_cse_secure/<name>`, created on first use. Two processes
   * opening one store at once end with the same key (the first commit wins, the other reads it).
   */
  static async inStore(store: Store, name = 'identity'): Promise<Identity> {
    const replica = new Replica(store);
    for (;;) {
      const [r] = await replica.getMany([{ collection: SECURE_COLLECTION, id: name }]);
      if (r !== undefined && !r.deleted) return Identity.fromJwk(r.doc.jwk as JsonWebKey);
      const { identity, jwk } = await Identity.generate();
      try {
        await replica.commit([{ collection: SECURE_COLLECTION, id: name, kind: 'put', body: { jwk: jwk as Record<string, unknown>, createdAt: Date.now() }, expect: { kind: 'absent' } }]);
        return identity;
      } catch (e) {
        if (!isCseError(e, 'CONFLICT')) throw e;
      }
    }
  }
}
