/**
 * Reading changes: `changesSince` pages, the live `watch` feed over them, and its callback form
 * `onChanges`. Every reader goes through `readChanges`, so all share one guarantee: nothing
 * missed, nothing out of order, ascending `_sync_id`.
 */
import type { SequenceState, StoredRecord } from './adapter.js';
import type { Waiter } from './change-feed.js';
import type { Doc } from './documents.js';
import { asDoc } from './documents.js';
import { ResetRequiredError, ValidationError, describeValue } from './errors.js';
import { optionsOf } from './input-checks.js';
import { assertCollectionName } from './json.js';
import type { StoreContext } from './store-context.js';

export interface ChangesOptions {
  /** Only these collections (default: every application collection; system ones are left out). */
  readonly collections?: readonly string[];
  /** Largest page. Default 100, at most 10 000. */
  readonly limit?: number;
  /**
   * Skips the check that the cursor is not older than compacted tombstones. Only for a reader
   * whose cursor comes from pages it read after the last compaction (so it lost nothing to it),
   * e.g. paging from 0 through a store compacted before the first page: it can tell by
   * `compactedThrough()` being unchanged since then. The check for a cursor ahead of the store stays.
   */
  readonly afterCompaction?: boolean;
}

/** One change as `changesSince` returns it: a document's current state, live or a tombstone. */
export interface Change {
  readonly collection: string;
  readonly id: string;
  readonly syncId: number;
  readonly version: number;
  readonly deleted: boolean;
  /** The document with metadata; for a tombstone only `id`, metadata and `_deleted`/`_deleted_at`. */
  readonly doc: Doc;
}

export interface WatchOptions extends ChangesOptions {
  /** Ends the watch: the iterator returns (no error), its timers and listeners are released. */
  readonly signal?: AbortSignal;
}

/** What `Store.onChanges` returns. */
export interface ChangeSubscription {
  /** The cursor after the last page the listener finished with. */
  readonly cursor: number;
  /** Ends the subscription; resolves once the listener is no longer called. */
  stop(): Promise<void>;
  /** Settles when the subscription ends: resolves on stop, abort or close; rejects with the error that ended it. */
  readonly done: Promise<void>;
}

export interface ChangePage {
  /** Ascending by `syncId`. */
  readonly changes: Change[];
  /**
   * Pass it to the next call: the highest `syncId` read (the last change of a full page; past
   * skipped system records otherwise), or the given cursor when nothing was read.
   */
  readonly cursor: number;
  /** True when more changes were waiting after this page. */
  readonly hasMore: boolean;
}

const MAX_PAGE = 10_000;

/** Snapshots `ChangesOptions` (`VALIDATION` for `null`, a non-object or a throwing getter). */
export function changesOptions(options: ChangesOptions | undefined): ChangesOptions {
  return optionsOf(options, 'changes options', ['collections', 'limit', 'afterCompaction']);
}

/** Snapshots `WatchOptions` (and `onChanges`'s `onError`), as `changesOptions`. */
export function watchOptions(options: (WatchOptions & { readonly onError?: (error: unknown) => void }) | undefined): WatchOptions & { readonly onError?: (error: unknown) => void } {
  const copy = optionsOf(options, 'watch options', ['collections', 'limit', 'afterCompaction', 'signal', 'onError']);
  checkSignal(copy.signal);
  if (copy.onError !== undefined && typeof copy.onError !== 'function') throw new ValidationError('onError must be a function');
  return copy;
}

/** Validates a cursor and options; returns the page size. */
export function changesArgs(cursor: number, options: ChangesOptions, allowSystem: boolean): number {
  if (typeof cursor !== 'number' || !Number.isSafeInteger(cursor) || cursor < 0) {
    throw new ValidationError(`a cursor is a non-negative integer, got ${describeValue(cursor)}`);
  }
  const limit = options.limit ?? 100;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_PAGE) {
    throw new ValidationError(`limit must be an integer from 1 to ${MAX_PAGE}, got ${describeValue(limit)}`);
  }
  const collections = options.collections;
  if (collections !== undefined) {
    if (!Array.isArray(collections)) throw new ValidationError('collections must be an array of names');
    for (const c of collections) assertCollectionName(c, allowSystem);
  }
  return limit;
}

/** Validates `WatchOptions.signal`. */
export function checkSignal(signal: unknown): void {
  if (signal !== undefined && (signal === null || typeof signal !== 'object' || typeof (signal as AbortSignal).addEventListener !== 'function')) {
    throw new ValidationError('signal must be an AbortSignal');
  }
}

/** One page of changes after `cursor` (see `Store.changesSince`). */
export async function readChanges(ctx: StoreContext, cursor: number, options: ChangesOptions, allowSystem: boolean): Promise<ChangePage> {
  const adapter = ctx.adapter;
  const limit = changesArgs(cursor, options, allowSystem);
  const collections = options.collections;
  const wanted = collections;
  // With `sequencedChanges` the counter comes with the first page, from one consistent read;
  // the checks below then judge the cursor against the state the page was read from.
  const together = adapter.capabilities.sequencedChanges ? adapter.changesWithSequence?.bind(adapter) : undefined;
  let first: StoredRecord[] | undefined;
  let seq: SequenceState;
  if (together !== undefined) {
    const read = await ctx.call('changes failed', () => together(cursor, wanted ? { limit: limit + 1, collections: wanted } : { limit: limit + 1 }));
    seq = read.sequence;
    first = read.records;
  } else {
    seq = await ctx.call('sequence failed', () => adapter.sequence());
  }
  if (cursor > seq.lastSyncId) {
    throw new ResetRequiredError(`cursor ${cursor} is ahead of this store (last sync id ${seq.lastSyncId}): it belongs to another store or epoch`);
  }
  if (cursor > 0 && cursor < seq.compactedThrough && options.afterCompaction !== true) {
    throw new ResetRequiredError(`cursor ${cursor} is older than the compacted tombstones (through ${seq.compactedThrough}): resync from 0`);
  }
  const skipSystem = wanted === undefined && !allowSystem;
  const out: StoredRecord[] = [];
  let after = cursor;
  let hasMore = false;
  // One record more than the page tells whether more wait. Without a collection list, system
  // records are skipped after the read (keeping it O(delta)), so read on until the page fills.
  for (;;) {
    const want = limit + 1 - out.length;
    const batch = first ?? (await ctx.call('changes failed', () => adapter.changes(after, wanted ? { limit: want, collections: wanted } : { limit: want })));
    first = undefined;
    for (const r of batch) {
      after = r.syncId;
      if (skipSystem && r.collection.startsWith('_')) continue;
      if (out.length === limit) {
        hasMore = true;
        break;
      }
      out.push(r);
    }
    if (hasMore || batch.length < want) break;
  }
  const last = out[out.length - 1];
  return {
    changes: out.map((r) => ({ collection: r.collection, id: r.id, syncId: r.syncId, version: r.version, deleted: r.deleted, doc: asDoc(r) })),
    // A full page ends at its last change. Otherwise everything up to `after` was read, and
    // skipped system records need not be read again.
    cursor: hasMore ? (last as StoredRecord).syncId : after,
    hasMore,
  };
}

/** The live feed of `Store.watch` (arguments already checked). */
export async function* watchChanges(ctx: StoreContext, cursor: number, options: WatchOptions, allowSystem: boolean): AsyncGenerator<ChangePage, void, undefined> {
  const feed = ctx.feed;
  const signal = options.signal;
  const waiter: Waiter = { dirty: true, wake: undefined };
  const onAbort = (): void => {
    const wake = waiter.wake;
    waiter.wake = undefined;
    wake?.();
  };
  const over = (): boolean => feed.closed || ctx.closed || signal?.aborted === true;
  if (over()) return;
  const read: ChangesOptions = { ...(options.collections ? { collections: options.collections } : {}), ...(options.limit ? { limit: options.limit } : {}) };
  feed.attach(waiter);
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    let at = cursor;
    for (;;) {
      if (over()) return;
      if (!waiter.dirty) {
        await new Promise<void>((resolve) => {
          waiter.wake = resolve;
        });
        continue;
      }
      // Cleared before the read: a commit that lands during the read wakes us again.
      waiter.dirty = false;
      let page: ChangePage;
      try {
        page = await readChanges(ctx, at, read, allowSystem);
      } catch (e) {
        if (over()) return;
        throw e;
      }
      if (over()) return;
      at = page.cursor;
      if (page.hasMore) waiter.dirty = true;
      if (page.changes.length > 0) yield page;
    }
  } finally {
    feed.detach(waiter);
    signal?.removeEventListener('abort', onAbort);
  }
}

/** `Store.onChanges`: runs `listener` over the pages of `watch` (given the abort signal to use), one at a time. */
export function subscribeChanges(
  watch: (signal: AbortSignal) => AsyncGenerator<ChangePage, void, undefined>,
  cursor: number,
  listener: (page: ChangePage) => void | Promise<void>,
  options: WatchOptions & { readonly onError?: (error: unknown) => void },
): ChangeSubscription {
  const stopper = new AbortController();
  const outer = options.signal;
  const onOuterAbort = (): void => stopper.abort();
  const iterator = watch(stopper.signal);
  if (outer?.aborted) stopper.abort();
  outer?.addEventListener('abort', onOuterAbort, { once: true });
  let at = cursor;
  const done = (async () => {
    try {
      for await (const page of iterator) {
        await listener(page);
        at = page.cursor;
      }
    } catch (e) {
      options.onError?.(e);
      throw e;
    } finally {
      outer?.removeEventListener('abort', onOuterAbort);
    }
  })();
  done.catch(() => undefined); // `done` is for whoever wants it; an unobserved end is no crash
  return {
    get cursor() {
      return at;
    },
    stop: async () => {
      stopper.abort();
      await done.catch(() => undefined);
    },
    done,
  };
}
