/**
 * The session handshake's cryptography (WebCrypto only). Per connection:
 *
 *   F → E  hello   = 0x01 | version 1 | mode (0 session, 1 pairing) | F's ephemeral ECDH P-256 key (65) | F's nonce (32)
 *   E → F  server  = 0x02 | E's ephemeral key (65) | E's nonce (32) | len (2) | E's identity SPKI | sig_E (64)
 *   F → E  record 0 (f2e): { spki: F's identity, sig: sig_F, pair?: { id, mac } }
 *   E → F  record 0 (e2f): { ok: true, frontendId, token? } or { ok: false, reason, message }
 *
 * `TH` = "cse-secure-v1" | hello | server without sig_E. sig_E signs "cse-secure-v1 edge" | TH,
 * sig_F signs "cse-secure-v1 frontend" | TH | F's SPKI, and a pairing proof is
 * HMAC(proofKey, "cse-secure-v1 pair" | TH | F's SPKI): both long-term keys, both ephemeral keys,
 * both nonces and the label are covered by both signatures. Traffic keys: HKDF-SHA-256 over the
 * ECDH secret, salt SHA-256(TH), info "cse-secure-v1 f2e" / "e2f" (AES-256-GCM, one per
 * direction) and "cse-secure-v1 session" (the 16-byte session id bound into every record).
 * The ephemeral keys are never stored, so an old session cannot be decrypted later (forward secrecy).
 */
import { bs, concat, utf8 } from './bytes.js';
import { SecureChannelError } from './secure-error.js';

export const LABEL = 'cse-secure-v1';
export const HELLO = 0x01;
export const SERVER = 0x02;
export const RECORD = 0x03;
export const MODE_SESSION = 0;
export const MODE_PAIRING = 1;

const ECDH = { name: 'ECDH', namedCurve: 'P-256' } as const;
const POINT = 65;
const NONCE = 32;
const SIG = 64;

export interface Ephemeral {
  readonly privateKey: CryptoKey;
  readonly raw: Uint8Array;
}

export async function ephemeral(): Promise<Ephemeral> {
  const pair = (await globalThis.crypto.subtle.generateKey(ECDH, false, ['deriveBits'])) as CryptoKeyPair;
  return { privateKey: pair.privateKey, raw: new Uint8Array(await globalThis.crypto.subtle.exportKey('raw', pair.publicKey)) };
}

export interface Hello {
  readonly mode: number;
  readonly key: Uint8Array;
  readonly nonce: Uint8Array;
  readonly bytes: Uint8Array;
}

export function encodeHello(mode: number, key: Uint8Array, nonce: Uint8Array): Uint8Array {
  return concat(new Uint8Array([HELLO, 1, mode]), key, nonce);
}

export function decodeHello(bytes: Uint8Array): Hello {
  if (bytes.length !== 3 + POINT + NONCE || bytes[0] !== HELLO) throw new SecureChannelError('handshake', 'expected a channel hello');
  if (bytes[1] !== 1) throw new SecureChannelError('handshake', `unknown channel version ${String(bytes[1])}`);
  const mode = bytes[2] as number;
  if (mode !== MODE_SESSION && mode !== MODE_PAIRING) throw new SecureChannelError('handshake', 'unknown channel mode');
  return { mode, key: bytes.slice(3, 3 + POINT), nonce: bytes.slice(3 + POINT), bytes };
}

export interface ServerHello {
  readonly key: Uint8Array;
  readonly nonce: Uint8Array;
  readonly spki: Uint8Array;
  /** The signed part (everything but the signature). */
  readonly signed: Uint8Array;
  readonly sig: Uint8Array;
}

export function encodeServerUnsigned(key: Uint8Array, nonce: Uint8Array, spki: Uint8Array): Uint8Array {
  return concat(new Uint8Array([SERVER]), key, nonce, new Uint8Array([spki.length >> 8, spki.length & 0xff]), spki);
}

export function decodeServer(bytes: Uint8Array): ServerHello {
  const head = 1 + POINT + NONCE + 2;
  if (bytes.length < head + SIG || bytes[0] !== SERVER) throw new SecureChannelError('handshake', 'expected a channel server hello');
  const len = ((bytes[head - 2] as number) << 8) | (bytes[head - 1] as number);
  if (bytes.length !== head + len + SIG) throw new SecureChannelError('handshake', 'a malformed channel server hello');
  return {
    key: bytes.slice(1, 1 + POINT),
    nonce: bytes.slice(1 + POINT, 1 + POINT + NONCE),
    spki: bytes.slice(head, head + len),
    signed: bytes.slice(0, head + len),
    sig: bytes.slice(head + len),
  };
}

export function transcript(hello: Uint8Array, serverUnsigned: Uint8Array): Uint8Array {
  return concat(utf8(LABEL), hello, serverUnsigned);
}

export const edgeSigned = (th: Uint8Array): Uint8Array => concat(utf8(`${LABEL} edge`), th);
export const frontendSigned = (th: Uint8Array, spki: Uint8Array): Uint8Array => concat(utf8(`${LABEL} frontend`), th, spki);
export const pairingProofInput = (th: Uint8Array, spki: Uint8Array): Uint8Array => concat(utf8(`${LABEL} pair`), th, spki);

export interface SessionKeys {
  readonly f2e: CryptoKey;
  readonly e2f: CryptoKey;
  readonly sessionId: Uint8Array;
}

/** ECDH with the peer's ephemeral key, then HKDF to the two traffic keys and the session id. */
export async function sessionKeys(mine: Ephemeral, peerRaw: Uint8Array, th: Uint8Array): Promise<SessionKeys> {
  const subtle = globalThis.crypto.subtle;
  let peer: CryptoKey;
  try {
    peer = await subtle.importKey('raw', bs(peerRaw), ECDH, false, []);
  } catch {
    throw new SecureChannelError('handshake', 'the peer ephemeral key is not a P-256 point');
  }
  const shared = new Uint8Array(await subtle.deriveBits({ name: 'ECDH', public: peer }, mine.privateKey, 256));
  const ikm = await subtle.importKey('raw', bs(shared), 'HKDF', false, ['deriveKey', 'deriveBits']);
  shared.fill(0);
  const salt = new Uint8Array(await subtle.digest('SHA-256', bs(th)));
  const params = (info: string): HkdfParams => ({ name: 'HKDF', hash: 'SHA-256', salt: bs(salt), info: bs(utf8(`${LABEL} ${info}`)) });
  const aes = { name: 'AES-GCM', length: 256 } as const;
  const [f2e, e2f, sessionId] = await Promise.all([
    subtle.deriveKey(params('f2e'), ikm, aes, false, ['encrypt', 'decrypt']),
    subtle.deriveKey(params('e2f'), ikm, aes, false, ['encrypt', 'decrypt']),
    subtle.deriveBits(params('session'), ikm, 128),
  ]);
  return { f2e, e2f, sessionId: new Uint8Array(sessionId) };
}
