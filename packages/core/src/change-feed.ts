/**
 * The wake-up side of `Store.watch`: one per Store, shared by all its watchers.
 *
 * A signal carries no data. Watchers read through `changes` themselves, so a coalesced or
 * spurious wake-up costs one read and a missed one is impossible as long as every commit leads
 * to at least one wake-up after it is visible. Sources of wake-ups:
 * - the Store's own commits (at once, whatever the adapter can do);
 * - the adapter's `subscribe` (with `capabilities.changeFeed`): other processes, clients, tabs;
 * - otherwise a poll of `sequence()` every `pollIntervalMs`, only while someone watches.
 */
import type { StorageAdapter } from './adapter.js';

/** One waiting watcher. `dirty` is set by a wake-up and cleared by the watcher before it reads. */
export interface Waiter {
  dirty: boolean;
  wake: (() => void) | undefined;
}

export class ChangeFeed {
  readonly #adapter: StorageAdapter;
  readonly #pollMs: number;
  readonly #waiters = new Set<Waiter>();
  #unsubscribe: (() => void) | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #polling = false;
  #lastSeen = -1;
  #closed = false;

  constructor(adapter: StorageAdapter, pollIntervalMs: number) {
    this.#adapter = adapter;
    this.#pollMs = pollIntervalMs;
  }

  get closed(): boolean {
    return this.#closed;
  }

  attach(waiter: Waiter): void {
    this.#waiters.add(waiter);
    if (this.#waiters.size === 1) this.#start();
  }

  detach(waiter: Waiter): void {
    this.#waiters.delete(waiter);
    if (this.#waiters.size === 0) this.#stop();
  }

  /** Something may have committed: every watcher reads again. */
  readonly wake = (): void => {
    for (const w of this.#waiters) {
      w.dirty = true;
      const wake = w.wake;
      w.wake = undefined;
      wake?.();
    }
  };

  /** Ends every watcher (they see `closed` and return) and releases the feed. */
  close(): void {
    this.#closed = true;
    this.wake();
    this.#waiters.clear();
    this.#stop();
  }

  #start(): void {
    const subscribe = this.#adapter.subscribe?.bind(this.#adapter);
    if (this.#adapter.capabilities.changeFeed && subscribe !== undefined) {
      this.#unsubscribe = subscribe(this.wake);
      return;
    }
    this.#lastSeen = -1;
    this.#timer = setInterval(() => void this.#poll(), this.#pollMs);
  }

  #stop(): void {
    const unsubscribe = this.#unsubscribe;
    this.#unsubscribe = undefined;
    unsubscribe?.();
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #poll(): Promise<void> {
    if (this.#polling) return; // a slow backend: never stack polls
    this.#polling = true;
    try {
      const { lastSyncId } = await this.#adapter.sequence();
      if (lastSyncId !== this.#lastSeen) {
        this.#lastSeen = lastSyncId;
        this.wake();
      }
    } catch {
      // A failing backend: keep polling. Watchers are not woken into an error by a transient
      // outage; once the backend answers again the counter shows what they missed.
    } finally {
      this.#polling = false;
    }
  }
}

/**
 * A set of `subscribe` listeners, for adapters: `add` is what `subscribe` returns, `notify`
 * goes after a commit is visible, `clear` belongs in `close`. One listener's throw does not stop
 * the others.
 */
export class CommitListeners {
  readonly #listeners = new Set<() => void>();

  get size(): number {
    return this.#listeners.size;
  }

  add(listener: () => void): () => void {
    // A wrapper per call, so the same function subscribed twice is two subscriptions.
    const entry = (): void => listener();
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  notify(): void {
    for (const listener of this.#listeners) {
      try {
        listener();
      } catch {
        // Listeners must not throw (see `StorageAdapter.subscribe`); one that does loses nothing for the others.
      }
    }
  }

  clear(): void {
    this.#listeners.clear();
  }
}
