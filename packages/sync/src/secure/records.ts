/**
 * The record layer: AES-256-GCM, one key per direction, a 96-bit nonce from the direction and a
 * per-direction counter, and the session id, direction and sequence number as associated data.
 * A record on the wire is base64url(0x03 | seq (8 bytes) | ciphertext+tag). The receiver takes
 * exactly the next sequence number: a lower one is a replay, a higher one a gap (a dropped or
 * reordered frame), and a record of another session or direction fails authentication.
 */
import { b64u, bs, concat, fromB64u, readU64, u64, utf8 } from './bytes.js';
import { LABEL, RECORD } from './session-keys.js';
import { SecureChannelError } from './secure-error.js';

export const F2E = 1;
export const E2F = 2;

const AAD_LABEL = utf8(`${LABEL} record`);

function nonce(direction: number, seq: number): Uint8Array {
  return concat(new Uint8Array([0, 0, 0, direction]), u64(seq));
}

function aad(sessionId: Uint8Array, direction: number, seq: number): Uint8Array {
  return concat(AAD_LABEL, sessionId, new Uint8Array([direction]), u64(seq));
}

/** One direction's sender: `seal` must be called in sequence order (the counter is taken at call time). */
export class Sealer {
  #seq: number;
  constructor(
    readonly key: CryptoKey,
    readonly sessionId: Uint8Array,
    readonly direction: number,
    first = 0,
  ) {
    this.#seq = first;
  }

  /** Takes the next sequence number now and encrypts `plain` under it. */
  seal(plain: Uint8Array): Promise<string> {
    const seq = this.#seq++;
    return globalThis.crypto.subtle
      .encrypt({ name: 'AES-GCM', iv: bs(nonce(this.direction, seq)), additionalData: bs(aad(this.sessionId, this.direction, seq)), tagLength: 128 }, this.key, bs(plain))
      .then((ct) => b64u(concat(new Uint8Array([RECORD]), u64(seq), new Uint8Array(ct))));
  }
}

/** One direction's receiver: `open` must be called in arrival order, one at a time. */
export class Opener {
  #seq: number;
  constructor(
    readonly key: CryptoKey,
    readonly sessionId: Uint8Array,
    readonly direction: number,
    first = 0,
  ) {
    this.#seq = first;
  }

  /** @throws `PROTOCOL` (`malformed`, `replayed`, `gap`, `tampered`). */
  async open(frame: string): Promise<Uint8Array> {
    const bytes = fromB64u(frame);
    if (bytes === undefined || bytes.length < 1 + 8 + 16 || bytes[0] !== RECORD) throw new SecureChannelError('malformed', 'a frame that is not a channel record');
    const seq = readU64(bytes, 1);
    if (seq < this.#seq) throw new SecureChannelError('replayed', `record ${seq} again (expected ${this.#seq}): a replay`);
    if (seq > this.#seq) throw new SecureChannelError('gap', `record ${seq} where ${this.#seq} was due: a dropped or reordered frame`);
    let plain: ArrayBuffer;
    try {
      plain = await globalThis.crypto.subtle.decrypt(
        { name: 'AES-GCM', iv: bs(nonce(this.direction, seq)), additionalData: bs(aad(this.sessionId, this.direction, seq)), tagLength: 128 },
        this.key,
        bs(bytes.subarray(9)),
      );
    } catch {
      throw new SecureChannelError('tampered', `record ${seq} failed authentication: altered, forged or from another session`);
    }
    this.#seq++;
    return new Uint8Array(plain);
  }
}
