/**
 * The wake-up of the Edge's live sessions: one `store.watch` of the application collections,
 * shared by every session of an EdgeSync, that wakes only the sessions following a collection
 * it saw change. The Edge's bookkeeping (acknowledgement records, receipts: system collections)
 * wakes none, so a commit nobody follows costs one read instead of one read per session.
 *
 * Like the Store's own feed, a wake-up carries no data: a woken session reads its own page. No
 * wake-up is missed: a session attaches before its first read, the watch starts from the
 * store's head and then wakes every session once (so commits between a session's read and that
 * head are read again), and every later commit is seen by the watch and wakes its followers.
 */
import type { Store } from '@cse/core';

/** One live session waiting for its collections to change. `dirty` is set by a wake-up and cleared by the session before it reads. */
export interface FeedWaiter {
  readonly collections: ReadonlySet<string>;
  dirty: boolean;
  wake: (() => void) | undefined;
}

const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 2_000;

export class SessionFeed {
  readonly #store: Store;
  readonly #pageSize: number;
  readonly #waiters = new Set<FeedWaiter>();
  #abort: AbortController | undefined;
  #closed = false;

  constructor(store: Store, pageSize: number) {
    this.#store = store;
    this.#pageSize = pageSize;
  }

  /** True once the store ended the watch (it closed) or the EdgeSync closed: sessions stop following. */
  get closed(): boolean {
    return this.#closed;
  }

  attach(waiter: FeedWaiter): void {
    this.#waiters.add(waiter);
    if (this.#abort === undefined && !this.#closed) {
      const abort = new AbortController();
      this.#abort = abort;
      void this.#run(abort.signal);
    }
  }

  detach(waiter: FeedWaiter): void {
    this.#waiters.delete(waiter);
    if (this.#waiters.size === 0) this.#stop();
  }

  /** Ends the feed: every waiting session wakes, sees `closed` and returns. */
  close(): void {
    this.#closed = true;
    this.#stop();
    this.#wake(undefined);
  }

  #stop(): void {
    this.#abort?.abort();
    this.#abort = undefined;
  }

  /** Wakes the sessions that follow one of `changed` (all of them when undefined). */
  #wake(changed: ReadonlySet<string> | undefined): void {
    for (const w of this.#waiters) {
      if (changed !== undefined && ![...changed].some((c) => w.collections.has(c))) continue;
      w.dirty = true;
      const wake = w.wake;
      w.wake = undefined;
      wake?.();
    }
  }

  async #run(signal: AbortSignal): Promise<void> {
    let retry = RETRY_MIN_MS;
    while (!signal.aborted) {
      try {
        const from = await this.#store.lastSyncId();
        // Sessions that read before `from` was known may have missed what lies below it.
        this.#wake(undefined);
        // afterCompaction: the watch only wakes; a session's own read checks its cursor.
        for await (const page of this.#store.watch(from, { limit: this.#pageSize, afterCompaction: true, signal })) {
          this.#wake(new Set(page.changes.map((c) => c.collection)));
          retry = RETRY_MIN_MS;
        }
        if (!signal.aborted) {
          // The store closed: nothing will commit any more.
          this.#closed = true;
          this.#abort = undefined;
          this.#wake(undefined);
        }
        return;
      } catch {
        // A failing read: every session reads for itself (and meets the error if it lasts);
        // the watch starts again from the head after a pause.
        this.#wake(undefined);
        await new Promise((resolve) => setTimeout(resolve, retry));
        retry = Math.min(retry * 2, RETRY_MAX_MS);
      }
    }
  }
}
