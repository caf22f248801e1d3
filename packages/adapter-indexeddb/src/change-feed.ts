import { CommitListeners } from '@cse/core';

/** How often the fallback (no `BroadcastChannel`) reads the counter while someone listens, in ms. */
export const FALLBACK_POLL_MS = 100;

/** The channel every connection to database `name` posts to and listens on. */
export function channelName(name: string): string {
  return `cse-indexeddb:${name}`;
}

type Channel = BroadcastChannel & { ref?: () => void; unref?: () => void };

/**
 * The adapter's side of `subscribe`. IndexedDB has no event for "another connection committed",
 * so connections tell each other: every committed write transaction posts its new counter on a
 * `BroadcastChannel` named after the database, which reaches the other tabs, workers and
 * connections of the origin (a channel never hears its own posts, so own commits notify
 * directly). Without `BroadcastChannel` the feed reads the counter every `FALLBACK_POLL_MS`
 * instead, only while someone listens.
 */
export class IndexedDbFeed {
  readonly #name: string;
  readonly #sequence: () => Promise<number>;
  readonly #listeners = new CommitListeners();
  #channel: Channel | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #polling = false;
  #lastSeen = -1;
  #closed = false;

  constructor(name: string, sequence: () => Promise<number>) {
    this.#name = name;
    this.#sequence = sequence;
  }

  subscribe(listener: () => void): () => void {
    if (this.#closed) return () => undefined;
    const remove = this.#listeners.add(listener);
    if (this.#listeners.size === 1) this.#start();
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      remove();
      if (this.#listeners.size === 0) this.#stop();
    };
  }

  /** After a write transaction completed: this connection's listeners, then everyone else's. */
  committed(lastSyncId: number): void {
    if (this.#closed) return;
    this.#listeners.notify();
    const channel = this.#open();
    try {
      channel?.postMessage(lastSyncId);
    } catch {
      // A channel closed under us (page unloading): the other side's own reads still catch up.
    }
  }

  close(): void {
    this.#closed = true;
    this.#listeners.clear();
    this.#stop();
    this.#channel?.close();
    this.#channel = undefined;
  }

  #open(): Channel | undefined {
    if (this.#channel !== undefined || typeof globalThis.BroadcastChannel !== 'function') return this.#channel;
    const channel: Channel = new BroadcastChannel(channelName(this.#name));
    // Node: a channel only posting must not keep the process alive (one listening does, below).
    channel.unref?.();
    this.#channel = channel;
    return channel;
  }

  #start(): void {
    const channel = this.#open();
    if (channel !== undefined) {
      channel.onmessage = () => this.#listeners.notify();
      channel.ref?.();
      return;
    }
    this.#lastSeen = -1;
    this.#timer = setInterval(() => void this.#poll(), FALLBACK_POLL_MS);
  }

  #stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    // Closed with the last listener; a later commit opens a fresh one to post on.
    this.#channel?.close();
    this.#channel = undefined;
  }

  async #poll(): Promise<void> {
    if (this.#polling) return;
    this.#polling = true;
    try {
      const last = await this.#sequence();
      if (last !== this.#lastSeen) {
        this.#lastSeen = last;
        this.#listeners.notify();
      }
    } catch {
      // Closed or failing: the Store's reads report it; keep quiet here.
    } finally {
      this.#polling = false;
    }
  }
}
