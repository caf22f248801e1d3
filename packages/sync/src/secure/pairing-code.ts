/**
 * Pairing codes: `cse1.<edgeId>.<secret>`, the Edge's key fingerprint (43 base64url characters)
 * and a one-time 128-bit secret (22 characters). The Frontend enters it once.
 *
 * Everything else is derived from the secret with HKDF-SHA-256 (salt: "cse pairing v1" and the
 * Edge id), each with its own info string, so no derived value reveals another:
 * - `id` ("cse pairing id"): names the code in the handshake (the Edge looks it up);
 * - `proofKey` ("cse pairing proof"): the HMAC-SHA-256 key the Frontend proves the secret with;
 * - `relayTicket` ("cse relay ticket"): what the relay sees (it keeps its hash to admit one
 *   pairing connection). Knowing the ticket gives neither the proof key nor the id.
 */
import { b64u, bs, concat, fromB64u, utf8 } from './bytes.js';
import { SecureChannelError } from './secure-error.js';

const PREFIX = 'cse1';
const SECRET_BYTES = 16;

export interface PairingCode {
  readonly edgeId: string;
  readonly secret: Uint8Array;
}

export interface PairingDerived {
  /** Names the code in the handshake (base64url, 16 bytes). */
  readonly id: string;
  /** HMAC-SHA-256 key bytes (32). */
  readonly proofKey: Uint8Array;
  /** The relay pairing ticket (base64url, 32 bytes). */
  readonly relayTicket: string;
}

export function formatPairingCode(edgeId: string, secret: Uint8Array): string {
  return `${PREFIX}.${edgeId}.${b64u(secret)}`;
}

/** @throws `PROTOCOL` (`malformed`) for anything that is not a pairing code. */
export function parsePairingCode(code: string): PairingCode {
  const parts = typeof code === 'string' ? code.trim().split('.') : [];
  const id = parts[1] === undefined ? undefined : fromB64u(parts[1]);
  const secret = parts[2] === undefined ? undefined : fromB64u(parts[2]);
  if (parts.length !== 3 || parts[0] !== PREFIX || id?.length !== 32 || secret?.length !== SECRET_BYTES) {
    throw new SecureChannelError('malformed', 'not a pairing code (expected cse1.<edge id>.<secret>)');
  }
  return { edgeId: parts[1] as string, secret };
}

export function newPairingSecret(): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(SECRET_BYTES));
}

async function hkdf(secret: Uint8Array, edgeId: string, info: string, bytes: number): Promise<Uint8Array> {
  const subtle = globalThis.crypto.subtle;
  const key = await subtle.importKey('raw', bs(secret), 'HKDF', false, ['deriveBits']);
  const salt = concat(utf8('cse pairing v1'), utf8(edgeId));
  return new Uint8Array(await subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: bs(salt), info: bs(utf8(info)) }, key, bytes * 8));
}

export async function derivePairing(code: PairingCode): Promise<PairingDerived> {
  const [id, proofKey, ticket] = await Promise.all([
    hkdf(code.secret, code.edgeId, 'cse pairing id', 16),
    hkdf(code.secret, code.edgeId, 'cse pairing proof', 32),
    hkdf(code.secret, code.edgeId, 'cse relay ticket', 32),
  ]);
  return { id: b64u(id), proofKey, relayTicket: b64u(ticket) };
}

/** The relay ticket of a pairing code (what a Frontend presents to the relay to pair). */
export async function relayTicketOf(code: string): Promise<string> {
  return (await derivePairing(parsePairingCode(code))).relayTicket;
}

export async function hmac(keyBytes: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
  const key = await globalThis.crypto.subtle.importKey('raw', bs(keyBytes), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return new Uint8Array(await globalThis.crypto.subtle.sign('HMAC', key, bs(data)));
}
