/**
 * Live changes (`Store.watch`): a watcher started from any cursor gets every change after it
 * exactly once, in ascending order, while writers commit (in this Store, another client, other
 * processes), across a close and reopen of the writer; it ends on abort and on close. With
 * `changeFeed` declared, a commit of another client reaches a watcher whose poll is too slow to
 * matter: the feed really signals. Every wait is bounded, so a stalled watcher fails, never hangs.
 */
import type { Change, Store } from '@cse/core';
import fc from 'fast-check';
import { fail, ok, show } from '../assert.js';
import type { Scope } from '../context.js';
import type { PlainWrite } from '../fixtures.js';
import { applyWrite, drain, plainWriteArb } from '../fixtures.js';
import type { Group } from '../group.js';
import { all, needs, needsChildren } from '../group.js';
import { checkProperty } from '../property.js';

/** How long a watcher may take to see a commit before the check calls it stalled. */
const BOUND_MS = 5_000;

/** A running `watch` that records what it gets. */
interface Watcher {
  readonly seen: Change[];
  /** The cursor after the last page. */
  cursor: number;
  readonly done: Promise<void>;
  readonly abort: () => void;
}

function startWatch(store: Store, cursor: number, limit?: number): Watcher {
  const controller = new AbortController();
  const w: Watcher = {
    seen: [],
    cursor,
    abort: () => controller.abort(),
    done: Promise.resolve(),
  };
  (w as { done: Promise<void> }).done = (async () => {
    for await (const page of store.watch(cursor, { signal: controller.signal, ...(limit ? { limit } : {}) })) {
      w.seen.push(...page.changes);
      w.cursor = page.cursor;
    }
  })();
  w.done.catch(() => undefined);
  return w;
}

/** Waits until the watcher's cursor reaches `target`, or fails after `BOUND_MS`. */
async function reach(w: Watcher, target: number, what: string): Promise<void> {
  let failed: unknown;
  w.done.catch((e: unknown) => {
    failed = e;
  });
  for (let waited = 0; w.cursor < target; waited += 5) {
    if (failed !== undefined) throw failed;
    if (waited > BOUND_MS) fail(`${what}: the watcher stalled at cursor ${w.cursor}, the store is at ${target} (no wake-up within ${BOUND_MS} ms)`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Resolves when `p` settles, or fails after `BOUND_MS`. */
async function ends(p: Promise<void>, what: string): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: the watch did not end within ${BOUND_MS} ms`)), BOUND_MS);
  });
  try {
    await Promise.race([p, timeout]);
  } catch (e) {
    if (e instanceof Error && e.message.includes('did not end')) fail(e.message);
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/** Every change after `from` exactly once, ascending, and each document at its current state. */
async function checkSeen(seen: readonly Change[], store: Store, from: number, what: string): Promise<void> {
  for (let i = 0; i < seen.length; i++) {
    const c = seen[i] as Change;
    ok(c.syncId > from, `${what}: got _sync_id ${c.syncId}, not after the start cursor ${from}`);
    ok(i === 0 || c.syncId > (seen[i - 1] as Change).syncId, `${what}: not ascending or a change twice: ${show(seen.map((x) => x.syncId))}`);
  }
  const truth = await drain(store, from);
  const ids = new Set(seen.map((c) => c.syncId));
  for (const c of truth) {
    ok(ids.has(c.syncId), `${what}: the watcher missed ${c.collection}/${JSON.stringify(c.id)} at _sync_id ${c.syncId}; it got ${show(seen.map((x) => x.syncId))}`);
  }
}

/**
 * A stall costs a whole `BOUND_MS` and rarely depends on the data, so a failing property reports
 * its first counterexample (seed and path printed, replayable) instead of shrinking for minutes.
 */
const WATCH_RUNS = { scale: 0.4, params: { endOnFailure: true } };

const writesArb = fc.array(plainWriteArb, { minLength: 1, maxLength: 12 });

/** Writes `writes` from `writers` concurrently (each a few macrotasks apart). */
async function write(writers: readonly Store[], writes: readonly PlainWrite[]): Promise<void> {
  await Promise.all(
    writes.map(async (w, i) => {
      await new Promise((r) => setTimeout(r, i % 3));
      await applyWrite(writers[i % writers.length] as Store, w);
    }),
  );
}

async function concurrent(scope: Scope, before: readonly PlainWrite[], writes: readonly PlainWrite[], startAt: number, limit: number, otherClient: boolean): Promise<void> {
  await scope.child(async (s) => {
    const name = s.storeName(otherClient ? 'watch-client' : 'watch');
    const store = await s.store(name);
    for (const w of before) await applyWrite(store, w);
    const from = Math.min(startAt, await store.lastSyncId());
    const w = startWatch(store, from, limit);
    const writers = otherClient ? [store, await s.store(name)] : [store];
    await write(writers, writes);
    await reach(w, await store.lastSyncId(), `a watcher from cursor ${from} (limit ${limit})`);
    w.abort();
    await ends(w.done, 'after abort');
    await checkSeen(w.seen, store, from, `a watcher from cursor ${from} (limit ${limit})`);
  });
}

export const watchGroupDef: Group = {
  id: 'watch',
  title: 'Live changes (watch)',
  checks: [
    {
      name: 'a watcher from any cursor gets every change once, ascending, while this store writes',
      run: (scope) =>
        checkProperty(
          scope,
          'watch: concurrent writes',
          fc.asyncProperty(fc.array(plainWriteArb, { maxLength: 6 }), writesArb, fc.nat({ max: 6 }), fc.integer({ min: 1, max: 4 }), (before, writes, at, limit) =>
            concurrent(scope, before, writes, at, limit, false),
          ),
          WATCH_RUNS,
        ),
    },
    {
      name: 'the same with another client (adapter instance) writing on the store',
      requires: needs('multiProcess'),
      run: (scope) =>
        checkProperty(
          scope,
          'watch: another client writes',
          fc.asyncProperty(fc.array(plainWriteArb, { maxLength: 6 }), writesArb, fc.nat({ max: 6 }), fc.integer({ min: 1, max: 4 }), (before, writes, at, limit) =>
            concurrent(scope, before, writes, at, limit, true),
          ),
          WATCH_RUNS,
        ),
    },
    {
      name: 'across a close and reopen of the writer, the watch misses nothing',
      requires: needs('persistent'),
      run: (scope) =>
        checkProperty(
          scope,
          'watch: reopen',
          fc.asyncProperty(writesArb, writesArb, (first, second) =>
            scope.child(async (s) => {
              const name = s.storeName('watch-reopen');
              if (s.caps.multiProcess) {
                // The watcher keeps running on its own instance while the writer closes and reopens.
                const watching = await s.store(name);
                const w = startWatch(watching, 0);
                const writer = await s.store(name);
                await write([writer], first);
                await s.closeOne(writer);
                const again = await s.store(name);
                await write([again], second);
                await reach(w, await again.lastSyncId(), 'a watcher while the writer reopened');
                w.abort();
                await ends(w.done, 'after abort');
                await checkSeen(w.seen, again, 0, 'a watcher while the writer reopened');
              } else {
                // One instance at a time: the watch ends with its store and resumes from its cursor.
                const store = await s.store(name);
                const w = startWatch(store, 0);
                await write([store], first);
                await reach(w, await store.lastSyncId(), 'before the reopen');
                await s.closeOne(store);
                await ends(w.done, 'on close');
                const again = await s.store(name);
                const resumed = startWatch(again, w.cursor);
                await write([again], second);
                await reach(resumed, await again.lastSyncId(), 'after the reopen');
                resumed.abort();
                await ends(resumed.done, 'after abort');
                await checkSeen([...w.seen, ...resumed.seen], again, 0, 'a watch resumed after a reopen');
              }
            }),
          ),
          { ...WATCH_RUNS, scale: 0.2 },
        ),
    },
    {
      name: 'a watch ends on abort and on close, also while it waits',
      run: (scope) =>
        scope.child(async (s) => {
          const store = await s.store(s.storeName('watch-end'));
          await store.insert('a', { id: 'x' });
          const aborted = startWatch(store, 0);
          await reach(aborted, 1, 'the first change');
          aborted.abort();
          await ends(aborted.done, 'abort while waiting');
          const pre = new AbortController();
          pre.abort();
          const none: Change[] = [];
          for await (const page of store.watch(0, { signal: pre.signal })) none.push(...page.changes);
          ok(none.length === 0, 'a watch with an already aborted signal yields nothing');
          const closing = startWatch(store, 1);
          await s.closeOne(store);
          await ends(closing.done, 'close while waiting');
        }),
    },
    {
      name: 'changeFeed: a commit of another client reaches a watcher that never polls',
      requires: all(needs('changeFeed'), needs('multiProcess')),
      run: (scope) =>
        scope.child(async (s) => {
          const name = s.storeName('watch-feed');
          const watching = await s.store(name, { pollIntervalMs: 60_000 });
          const writer = await s.store(name);
          const w = startWatch(watching, 0);
          for (let i = 0; i < 4; i++) {
            const doc = await writer.insert('a', { id: `feed-${i}` });
            await reach(w, doc._sync_id, `commit ${i + 1} of another client (the watcher polls once a minute, so only the change feed can wake it)`);
          }
          w.abort();
          await ends(w.done, 'after abort');
          await checkSeen(w.seen, watching, 0, 'a watcher woken by the change feed');
        }),
    },
    {
      name: 'writer processes: a watcher in the parent gets every change once, ascending',
      requires: all(needs('multiProcess'), needsChildren),
      timeout: 300_000,
      run: (scope) =>
        scope.child(async (s) => {
          const { spawnChild } = await import('../child/spawn.js');
          const name = s.storeName('watch-mp');
          const store = await s.store(name);
          await store.insert('mp', { id: 'start' });
          const w = startWatch(store, 0, 5);
          const dir = await s.run.dir();
          const children = await Promise.all(
            [0, 1].map((i) => spawnChild({ mode: 'writer', module: s.run.options.module as string, storeName: name, dir, tag: `watch${i}`, commits: 10 })),
          );
          const results = await Promise.all(children.map((c) => c.exited));
          results.forEach((r, i) => ok(r.code === 0, `writer ${i} failed (exit ${String(r.code)}):\n${(children[i] as { stderr(): string }).stderr()}`));
          await reach(w, await store.lastSyncId(), 'a watcher following two writer processes');
          w.abort();
          await ends(w.done, 'after abort');
          await checkSeen(w.seen, store, 0, 'a watcher following two writer processes');
        }),
    },
  ],
};
