/**
 * Transports: how frames travel between one Frontend and one Edge. A transport is one ordered,
 * reliable connection of text frames (a WebSocket, an in-process pair, later an encrypted channel
 * through the relay, which wraps any transport). The protocol knows nothing else about it.
 */

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

/** Opens a new connection to the Edge (the Frontend calls it again after every disconnect). */
export type Connect = () => Promise<Transport>;

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

/**
 * Connects to `url` with the browser's `WebSocket` (or the constructor given, e.g. the `ws`
 * package's on Node: see `@cse/sync/node`). Rejects when the connection cannot be opened.
 */
export function webSocketConnector(url: string, WebSocketImpl?: new (url: string) => WebSocketLike): Connect {
  return () =>
    new Promise<Transport>((resolve, reject) => {
      const Impl = WebSocketImpl ?? (globalThis as { WebSocket?: new (url: string) => WebSocketLike }).WebSocket;
      if (Impl === undefined) {
        reject(new Error('no WebSocket here: on Node use nodeWebSocketConnector from @cse/sync/node'));
        return;
      }
      const socket = new Impl(url);
      socket.onopen = () => resolve(webSocketTransport(socket));
      socket.onerror = () => reject(new Error(`cannot connect to ${url}`));
      socket.onclose = () => reject(new Error(`cannot connect to ${url}`));
    });
}
