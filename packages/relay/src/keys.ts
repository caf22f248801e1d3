/**
 * What the relay checks with WebCrypto (P-256 ECDSA, SHA-256): the Edge's signed challenge and
 * the tokens an Edge issues. Each signed message starts with its own domain string, so a
 * signature made for one purpose is worthless for another. The same strings are in
 * `@cse/sync`'s relay-transport.ts (the client side); change both or neither.
 */

export const EDGE_REGISTER_DOMAIN = 'cse-relay edge-register v1\n';
export const TOKEN_DOMAIN = 'cse-relay token v1\n';

const subtle = (): SubtleCrypto => globalThis.crypto.subtle;
const utf8 = new TextEncoder();
/** A copy on a plain ArrayBuffer, as WebCrypto's types want. */
const own = (u: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(u);

export function toBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}

export function fromBase64Url(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return undefined;
  return new Uint8Array(Buffer.from(text, 'base64url'));
}

/** `base64url(SHA-256(spki))`: the id an Edge registers under (43 characters). */
export async function edgeIdOf(spki: Uint8Array): Promise<string> {
  return toBase64Url(new Uint8Array(await subtle().digest('SHA-256', own(spki))));
}

/** `base64url(SHA-256(utf8(ticket)))`: all the relay keeps of a pairing ticket. */
export async function ticketHash(ticket: string): Promise<string> {
  return toBase64Url(new Uint8Array(await subtle().digest('SHA-256', utf8.encode(ticket))));
}

/** Imports an Edge's SPKI public key; undefined when it is not a P-256 key. */
export async function importEdgeKey(spki: Uint8Array): Promise<CryptoKey | undefined> {
  try {
    return await subtle().importKey('spki', own(spki), { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
  } catch {
    return undefined;
  }
}

export async function verify(key: CryptoKey, domain: string, message: string, signature: Uint8Array): Promise<boolean> {
  if (signature.length !== 64) return false;
  try {
    return await subtle().verify({ name: 'ECDSA', hash: 'SHA-256' }, key, own(signature), utf8.encode(domain + message));
  } catch {
    return false;
  }
}

export interface TokenClaims {
  readonly edgeId: string;
  readonly frontendId: string;
  /** Milliseconds since the epoch; absent = no expiry. */
  readonly expiresAt?: number;
}

const ID = /^[A-Za-z0-9_-]{43}$/;

export function isId(x: unknown): x is string {
  return typeof x === 'string' && ID.test(x);
}

/**
 * Checks a token `base64url(claims JSON) "." base64url(signature)` against the Edge's key.
 * Returns the claims, or a short reason it was refused.
 */
export async function verifyToken(key: CryptoKey, token: string, edgeId: string, now: number): Promise<TokenClaims | string> {
  const parts = token.split('.');
  if (parts.length !== 2) return 'malformed token';
  const [body, sig] = parts as [string, string];
  const signature = fromBase64Url(sig);
  const json = fromBase64Url(body);
  if (signature === undefined || json === undefined) return 'malformed token';
  let claims: unknown;
  try {
    claims = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json));
  } catch {
    return 'malformed token';
  }
  const c = claims as Partial<TokenClaims>;
  if (typeof claims !== 'object' || claims === null || !isId(c.edgeId) || !isId(c.frontendId)) return 'malformed token';
  if (c.expiresAt !== undefined && typeof c.expiresAt !== 'number') return 'malformed token';
  if (!(await verify(key, TOKEN_DOMAIN, body, signature))) return 'bad token signature';
  if (c.edgeId !== edgeId) return 'token of another edge';
  if (c.expiresAt !== undefined && c.expiresAt <= now) return 'token expired';
  return { edgeId: c.edgeId, frontendId: c.frontendId, ...(c.expiresAt === undefined ? {} : { expiresAt: c.expiresAt }) };
}
