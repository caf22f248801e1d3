/** Byte helpers for the encrypted channel: base64url (both runtimes), concatenation, UTF-8. */

/** WebCrypto's parameter type, for byte arrays of either buffer kind. */
export function bs(u: Uint8Array): BufferSource {
  return u as unknown as BufferSource;
}

const NodeBuffer = (globalThis as { Buffer?: { from(b: Uint8Array | string, enc?: string): Uint8Array & { toString(enc: string): string } } }).Buffer;

/** base64url without padding (RFC 4648 §5). */
export function b64u(bytes: Uint8Array): string {
  if (NodeBuffer !== undefined) return NodeBuffer.from(bytes).toString('base64url');
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

const B64U = /^[A-Za-z0-9_-]*$/;

/** Decodes base64url; `undefined` for anything that is not canonical base64url. */
export function fromB64u(text: string): Uint8Array | undefined {
  if (!B64U.test(text) || text.length % 4 === 1) return undefined;
  let out: Uint8Array;
  if (NodeBuffer !== undefined) {
    out = new Uint8Array(NodeBuffer.from(text, 'base64url'));
  } else {
    const bin = atob(text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4));
    out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  }
  // Non-canonical encodings (stray low bits) would let one frame have two spellings.
  return b64u(out) === text ? out : undefined;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Constant-time comparison of two byte strings of public length. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= (a[i] as number) ^ (b[i] as number);
  return d === 0;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

export function fromUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

export function randomBytes(n: number): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(n));
}

/** 8-byte big-endian unsigned integer (sequence numbers stay far below 2^53). */
export function u64(n: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n));
  return out;
}

export function readU64(bytes: Uint8Array, at: number): number {
  return Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(at));
}
