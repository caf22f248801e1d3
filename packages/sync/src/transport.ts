/**
 * Transports: how frames travel between one Frontend and one Edge. A transport is one ordered,
 * reliable connection of text frames (a WebSocket, an in-process pair, later an encrypted channel
 * through the relay, which wraps any transport). The protocol knows nothing else about it.
 */
import { CseError, ErrorCode } from '@cse/core';

/** One connection. Set the handlers before the first frame can arrive (right after connecting). */
export interface Transport {
  /** Queues a frame. Frames arrive in order or the connection closes. After close, ignored. */
  send(frame: string): void;
  /** Closes the connection; `onclose` runs once, on both ends. Idempotent. */
  close(reason?: string): void;
  /** Frames queued but not yet handed to the network (for backpressure); 0 if unknown. */
  readonly buffered: number;
  onmessage: ((frame: string) => void) | undefined;
  onclose: ((reason: string) => void) | undefined;
}

/** What a caller may pass to a `Connect`. */
export interface ConnectOptions {
  /** Aborting it gives the attempt up at once (the promise rejects with `CLOSED`). */
  readonly signal?: AbortSignal;
}

/**
 * Opens a new connection to the Edge (the Frontend calls it again after every disconnect). Every
 * connector of this package gives up after its timeout (it rejects, and the caller retries), and
 * at once when `options.signal` aborts.
 */
export type Connect = (options?: ConnectOptions) => Promise<Transport>;

/** Default time for a connection to open (TCP, TLS, the HTTP upgrade). */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

class PairEnd implements Transport {
  peer: PairEnd | undefined;
  closed = false;
  onmessage: ((frame: string) => void) | undefined;
  onclose: ((reason: string) => void) | undefined;
  readonly #delay: () => number;
  #pending = 0;
  #chain: Promise<void> = Promise.resolve();

  constructor(delay: () => number) {
    this.#delay = delay;
  }

  get buffered(): number {
    return this.#pending;
  }

  send(frame: string): void {
    if (this.closed) return;
    const peer = this.peer as PairEnd;
    const wait = this.#delay();
    this.#pending++;
    // A chain keeps the order even when delays differ: a delay holds back what follows it.
    this.#chain = this.#chain.then(async () => {
      await new Promise((r) => setTimeout(r, wait));
      this.#pending--;
      if (!peer.closed) peer.onmessage?.(frame);
    });
  }

  close(reason = 'closed'): void {
    if (this.closed) return;
    this.closed = true;
    const peer = this.peer as PairEnd;
    // Frames sent before the close still arrive (as a WebSocket sends its queue before closing).
    this.#chain = this.#chain.then(() => {
      if (!peer.closed) {
        peer.closed = true;
        peer.onclose?.(reason);
      }
      this.onclose?.(reason);
    });
  }
}

/**
 * Two connected in-process ends, for tests: frames are delivered asynchronously and in order,
 * each after `delayMs()` (default 0).
 */
export function memoryPair(options: { readonly delayMs?: () => number } = {}): [Transport, Transport] {
  const delay = options.delayMs ?? (() => 0);
  const a = new PairEnd(delay);
  const b = new PairEnd(delay);
  a.peer = b;
  b.peer = a;
  return [a, b];
}

/** The WebSocket API both the browser's `WebSocket` and the `ws` package's client offer. */
export interface WebSocketLike {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code?: number; reason?: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  /** The `ws` package's hard close (no closing handshake): used when a peer stopped answering. */
  terminate?(): void;
}

/**
 * Gives up on a socket whose peer may be gone: no more events reach its handlers, and it is
 * destroyed at once where the API allows (`ws`), instead of waiting for a closing handshake
 * that a dead peer never answers.
 */
export function dropSocket(socket: WebSocketLike, reason: string): void {
  socket.onopen = null;
  socket.onmessage = null;
  socket.onclose = null;
  // `ws` emits 'error' when a connecting socket is aborted: keep a listener so it is not thrown.
  socket.onerror = () => undefined;
  try {
    if (typeof socket.terminate === 'function') socket.terminate();
    else socket.close(1000, reason.slice(0, 100));
  } catch {
    // already closed
  }
}

/**
 * Runs one connection attempt with a deadline: `body` opens it and calls `resolve` or `reject`;
 * after `timeoutMs`, or when `signal` aborts, `giveUp` runs (close what was opened, so nothing
 * resolves later) and the promise rejects (`BACKEND` with `details.reason` `'timeout'`, or
 * `CLOSED` on abort).
 */
export function attempt<T>(
  what: string,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  giveUp: (reason: string) => void,
  body: (resolve: (value: T) => void, reject: (e: unknown) => void) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const finish = (): boolean => {
      if (done) return false;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', abort);
      return true;
    };
    const fail = (e: CseError): void => {
      if (!finish()) return;
      giveUp(e.message);
      reject(e);
    };
    const abort = (): void => fail(new CseError(ErrorCode.CLOSED, `${what}: the connection attempt was aborted`, { details: { reason: 'aborted' } }));
    const timer = setTimeout(() => fail(new CseError(ErrorCode.BACKEND, `${what}: no answer within ${timeoutMs} ms`, { details: { reason: 'timeout' } })), timeoutMs);
    if (signal?.aborted === true) {
      abort();
      return;
    }
    signal?.addEventListener('abort', abort, { once: true });
    try {
      body(
        (v) => {
          if (finish()) resolve(v);
        },
        (e) => {
          if (finish()) reject(e);
        },
      );
    } catch (e) {
      if (finish()) {
        giveUp('failed');
        reject(e);
      }
    }
  });
}

/** Wraps an open WebSocket (either API) as a transport. Binary frames close it (the protocol is text). */
export function webSocketTransport(socket: WebSocketLike): Transport {
  let closed = false;
  const t: Transport = {
    send(frame) {
      if (!closed && socket.readyState === 1) socket.send(frame);
    },
    close(reason = 'closed') {
      if (closed) return;
      try {
        socket.close(1000, reason.slice(0, 100));
      } catch {
        // already closing
      }
      end(reason);
    },
    get buffered() {
      return socket.bufferedAmount;
    },
    onmessage: undefined,
    onclose: undefined,
  };
  const end = (reason: string): void => {
    if (closed) return;
    closed = true;
    t.onclose?.(reason);
  };
  socket.onmessage = (ev) => {
    if (closed) return;
    if (typeof ev.data !== 'string') {
      t.close('binary frames are not part of the protocol');
      return;
    }
    t.onmessage?.(ev.data);
  };
  socket.onclose = (ev) => end(ev.reason || `socket closed (${ev.code ?? 'no code'})`);
  socket.onerror = () => end('socket error');
  return t;
}

export interface WebSocketConnectorOptions {
  /** WebSocket constructor; default the global `WebSocket` (on Node: `nodeWebSocketConnector`). */
  readonly WebSocket?: new (url: string) => WebSocketLike;
  /** Time for the socket to open before the attempt is given up (and retried). Default 10 000 ms. */
  readonly timeoutMs?: number;
}

/**
 * Connects to `url` with the browser's `WebSocket` (or the constructor given, e.g. the `ws`
 * package's on Node: see `@cse/sync/node`). Rejects when the connection cannot be opened, when
 * it is not open within `timeoutMs` (a peer that accepts TCP and never answers), or on abort.
 */
export function webSocketConnector(url: string, options?: WebSocketConnectorOptions | (new (url: string) => WebSocketLike)): Connect {
  const o: WebSocketConnectorOptions = typeof options === 'function' ? { WebSocket: options } : (options ?? {});
  const timeoutMs = o.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  return (co) => {
    let socket: WebSocketLike | undefined;
    return attempt<Transport>(`cannot connect to ${url}`, timeoutMs, co?.signal, (why) => {
      if (socket !== undefined) dropSocket(socket, why);
    }, (resolve, reject) => {
      const Impl = o.WebSocket ?? (globalThis as { WebSocket?: new (url: string) => WebSocketLike }).WebSocket;
      if (Impl === undefined) throw new Error('no WebSocket here: on Node use nodeWebSocketConnector from @cse/sync/node');
      const s = new Impl(url);
      socket = s;
      s.onopen = () => resolve(webSocketTransport(s));
      s.onerror = () => reject(new CseError(ErrorCode.BACKEND, `cannot connect to ${url}`));
      s.onclose = () => reject(new CseError(ErrorCode.BACKEND, `cannot connect to ${url}`));
    });
  };
}
