/**
 * A `Transport` over another one, through the record layer: what `EdgeSync` and `FrontendSync`
 * see is an ordinary transport of text frames, so the sync protocol is untouched. Sealing and
 * opening are asynchronous (WebCrypto); two chains keep both directions in order. The first
 * frame that fails (tampered, replayed, out of sequence, malformed) ends the session: the error
 * goes to `onError`, the inner transport is closed, and nothing after it is delivered.
 *
 * Batches (when both ends said so in the handshake, `batch: 1`): the frames sent while the
 * previous record is being sealed, or in the same turn of the event loop, go into one record
 * (one AES-GCM operation each way, one relay frame), up to `BATCH_CHARS` of text. A batch's
 * plaintext is each frame as `<length>:<frame>` (the length in UTF-16 code units), so any text
 * frame fits; the record authenticates the whole batch, so the relay can no more split or
 * reorder its frames than it can a record's bytes.
 */
import type { Transport } from '../transport.js';
import { fromUtf8, utf8 } from './bytes.js';
import type { Opener, Sealer } from './records.js';
import { SecureChannelError } from './secure-error.js';

/** Text of frames one batch record holds at most (a larger frame goes alone). */
export const BATCH_CHARS = 256 * 1024;

/** A batch record's plaintext. */
export function packBatch(frames: readonly string[]): string {
  return frames.map((f) => `${f.length}:${f}`).join('');
}

/** The frames of a batch record. @throws `PROTOCOL` (`malformed`). */
export function unpackBatch(text: string): string[] {
  const frames: string[] = [];
  for (let at = 0; at < text.length; ) {
    const colon = text.indexOf(':', at);
    const digits = text.slice(at, colon);
    if (colon < 0 || !/^(0|[1-9][0-9]{0,9})$/.test(digits)) throw new SecureChannelError('malformed', 'a batch record that is not <length>:<frame>...');
    const end = colon + 1 + Number(digits);
    if (end > text.length) throw new SecureChannelError('malformed', 'a batch record whose frame runs past its end');
    frames.push(text.slice(colon + 1, end));
    at = end;
  }
  return frames;
}

export class SecureTransport implements Transport {
  /** The error that ended the session, if one did. */
  error: SecureChannelError | undefined;
  readonly #inner: Transport;
  readonly #sealer: Sealer;
  readonly #opener: Opener;
  readonly #onError: (e: SecureChannelError) => void;
  #out: Promise<void> = Promise.resolve();
  #in: Promise<void> = Promise.resolve();
  #sealing = 0;
  /** Batch records (negotiated): frames waiting for the next record, and whether one is scheduled. */
  readonly #batch: boolean;
  #queued: string[] = [];
  #queuedChars = 0;
  #scheduled = false;
  #closed = false;
  #ended = false;
  readonly #endListeners: (() => void)[] = [];
  // The session may deliver (or end) before the consumer has set its handlers, since the
  // handshake resolves through a few awaits: what comes meanwhile waits for them.
  #onmessage: ((frame: string) => void) | undefined;
  #onclose: ((reason: string) => void) | undefined;
  readonly #waiting: string[] = [];
  #endReason: string | undefined;
  #closeDelivered = false;

  get onmessage(): ((frame: string) => void) | undefined {
    return this.#onmessage;
  }

  set onmessage(f: ((frame: string) => void) | undefined) {
    this.#onmessage = f;
    if (f !== undefined && this.#waiting.length > 0) queueMicrotask(() => this.#flush());
  }

  get onclose(): ((reason: string) => void) | undefined {
    return this.#onclose;
  }

  set onclose(f: ((reason: string) => void) | undefined) {
    this.#onclose = f;
    if (f !== undefined && this.#endReason !== undefined) queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    while (this.#onmessage !== undefined && this.#waiting.length > 0) {
      const frame = this.#waiting.shift() as string;
      try {
        this.#onmessage(frame);
      } catch {
        // the consumer's failure is its own
      }
    }
    if (this.#endReason !== undefined && this.#waiting.length === 0 && this.#onclose !== undefined && !this.#closeDelivered) {
      this.#closeDelivered = true;
      this.#onclose(this.#endReason);
    }
  }

  constructor(inner: Transport, sealer: Sealer, opener: Opener, early: { frames: readonly string[]; closed: string | undefined }, onError: (e: SecureChannelError) => void, batch = false) {
    this.#inner = inner;
    this.#batch = batch;
    this.#sealer = sealer;
    this.#opener = opener;
    this.#onError = onError;
    for (const f of early.frames) this.#receive(f);
    const closed = (reason: string): void => {
      // Records that arrived before the close are still delivered, then the close.
      this.#closed = true;
      this.#in = this.#in.then(() => this.#end(reason));
    };
    inner.onmessage = (f) => this.#receive(f);
    inner.onclose = closed;
    if (early.closed !== undefined) closed(early.closed);
  }

  get buffered(): number {
    return this.#inner.buffered + this.#sealing;
  }

  send(frame: string): void {
    if (this.#closed) return;
    if (!this.#batch) {
      this.#seal(frame);
      return;
    }
    if (this.#queued.length > 0 && this.#queuedChars + frame.length > BATCH_CHARS) this.#sealQueued();
    this.#queued.push(frame);
    this.#queuedChars += frame.length;
    this.#sealing++;
    // Sealed at the end of this turn, or later if the record before is still being sealed: the
    // frames sent meanwhile join it.
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => {
        this.#scheduled = false;
        if (this.#sealingNow) this.#afterSeal = true;
        else this.#sealQueued();
      });
    }
  }

  /** A record is being encrypted now; `#afterSeal`: the frames queued meanwhile go when it is done. */
  #sealingNow = false;
  #afterSeal = false;

  #sealQueued(): void {
    if (this.#queued.length === 0) return;
    const frames = this.#queued;
    this.#queued = [];
    this.#queuedChars = 0;
    this.#sealing -= frames.length;
    this.#seal(packBatch(frames));
  }

  #seal(plain: string): void {
    this.#sealing++;
    this.#sealingNow = true;
    const sealed = this.#sealer.seal(utf8(plain));
    const done = (): void => {
      this.#sealing--;
      this.#sealingNow = false;
      if (this.#afterSeal) {
        this.#afterSeal = false;
        this.#sealQueued();
      }
    };
    this.#out = this.#out
      .then(async () => {
        let text: string;
        try {
          text = await sealed;
        } finally {
          done();
        }
        this.#inner.send(text);
      })
      .catch(() => undefined);
  }

  close(reason = 'closed'): void {
    if (this.#closed) return;
    this.#sealQueued();
    this.#closed = true;
    // Frames sent before the close go out first (as on a WebSocket).
    this.#out = this.#out.then(() => this.#inner.close(reason));
  }

  /** Ends the session at once with `e` (as an integrity failure would): nothing more is delivered. */
  abort(e: SecureChannelError): void {
    if (this.error === undefined && !this.#ended) this.#fail(e);
  }

  /** Runs `f` once when the session has ended (for bookkeeping; `onclose` stays the consumer's). */
  whenEnded(f: () => void): void {
    if (this.#ended) f();
    else this.#endListeners.push(f);
  }

  #receive(frame: string): void {
    this.#in = this.#in.then(async () => {
      if (this.error !== undefined || this.#ended) return;
      let plain: string;
      try {
        plain = fromUtf8(await this.#opener.open(frame));
      } catch (e) {
        this.#fail(e instanceof SecureChannelError ? e : new SecureChannelError('malformed', 'a record that is not UTF-8 text'));
        return;
      }
      if (!this.#batch) this.#waiting.push(plain);
      else {
        try {
          this.#waiting.push(...unpackBatch(plain));
        } catch (e) {
          this.#fail(e as SecureChannelError);
          return;
        }
      }
      this.#flush();
    });
  }

  #fail(e: SecureChannelError): void {
    this.error = e;
    this.#closed = true;
    try {
      this.#onError(e);
    } catch {
      // a listener's failure changes nothing
    }
    this.#inner.close(`${e.code}: ${e.reason}`);
    this.#end(`${e.code}: ${e.reason}`);
  }

  #end(reason: string): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#closed = true;
    for (const f of this.#endListeners.splice(0)) f();
    this.#endReason = reason;
    this.#flush();
  }
}

/** Collects an inner transport's frames during the handshake. */
export class FrameReader {
  readonly #frames: string[] = [];
  #closed: string | undefined;
  #wake: (() => void) | undefined;

  constructor(readonly inner: Transport) {
    inner.onmessage = (f) => {
      this.#frames.push(f);
      this.#wake?.();
    };
    inner.onclose = (reason) => {
      this.#closed = reason;
      this.#wake?.();
    };
  }

  /** The next frame. @throws `PROTOCOL` (`handshake`) on close or after `timeoutMs`. */
  async next(timeoutMs: number): Promise<string> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const f = this.#frames.shift();
      if (f !== undefined) return f;
      if (this.#closed !== undefined) throw new SecureChannelError('handshake', `the connection closed during the handshake (${this.#closed})`);
      const left = end - Date.now();
      if (left <= 0) throw new SecureChannelError('handshake', 'the handshake timed out');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }

  /** Frames that came after the handshake's last one, and whether the connection already closed. */
  drain(): { frames: string[]; closed: string | undefined } {
    return { frames: this.#frames.splice(0), closed: this.#closed };
  }
}
