/**
 * The change feed (capability `changeFeed`), checked at the adapter, aimed at each promise of
 * `subscribe`:
 *
 * - unsubscribing works: the listener is never called again, and the adapter holds no timer
 *   for it (on Node: every timer created since subscribing is fired or cleared);
 * - the feed never goes silent: a run of ids from another instance (and another process) that
 *   crosses 10, 100, 256, 1000 and 1024 in single commits and in batches signals every commit;
 * - a signal comes only once its commit is visible: the read the listener makes on each signal
 *   must, for every commit, at some point see it (an early signal followed by silence fails).
 *
 * Every wait is for a condition with a generous bound, so a silent feed fails, never hangs.
 */
import type { StorageAdapter, Store } from '@cse/core';
import { fail, ok } from '../assert.js';
import { isNode } from '../context.js';
import type { Group } from '../group.js';
import { all, needs, needsChildren } from '../group.js';

/** How long a signal may take before the feed counts as silent. */
const BOUND_MS = 5_000;

/** The timers `until` creates (not the adapter's). */
const ownTimers = new WeakSet<object>();

/** Waits until `condition()` holds, or fails with `what` after `BOUND_MS`. */
async function until(condition: () => boolean, what: () => string): Promise<void> {
  for (let waited = 0; !condition(); waited += 2) {
    if (waited > BOUND_MS) fail(what());
    await new Promise<void>((r) => {
      const t: unknown = setTimeout(r, 2);
      // Node's timers are objects (what the timer watch sees); a browser's are numbers.
      if (typeof t === 'object' && t !== null) ownTimers.add(t);
    });
  }
}

/** Timers of this process created from `start()` on and not yet fired or cleared, leaving out the check's own waits. */
interface TimerWatch {
  start(): void;
  /** Timers alive that someone else (the adapter) created since `start()`. */
  alive(): number;
  stop(): void;
}

/** Watches timers through `async_hooks` (Node); `undefined` elsewhere. */
async function watchTimers(): Promise<TimerWatch | undefined> {
  if (!isNode()) return undefined;
  const { createHook } = await import('node:async_hooks');
  const alive = new Map<number, object>();
  const hook = createHook({
    init: (id, type, _trigger, resource) => {
      if (type === 'Timeout') alive.set(id, resource);
    },
    destroy: (id) => {
      alive.delete(id);
    },
  });
  return {
    start: () => hook.enable(),
    alive: () => [...alive.values()].filter((t) => !ownTimers.has(t)).length,
    stop: () => hook.disable(),
  };
}

/** A listener that counts its calls. */
function counter(): { calls: number; listener: () => void } {
  const c = { calls: 0, listener: () => void (c.calls += 1) };
  return c;
}

/**
 * Follows `adapter`'s feed: on every signal it reads the changes above what it has seen at once,
 * so `seen` is the highest id a read made on a signal returned.
 */
function follow(adapter: StorageAdapter): { readonly state: { seen: number; signals: number; error?: unknown }; readonly stop: () => void } {
  const state: { seen: number; signals: number; error?: unknown } = { seen: 0, signals: 0 };
  const stop = adapter.subscribe?.(() => {
    state.signals += 1;
    adapter.changes(state.seen, { limit: 100_000 }).then(
      (records) => {
        for (const r of records) state.seen = Math.max(state.seen, r.syncId);
      },
      (e: unknown) => {
        state.error ??= e;
      },
    );
  });
  ok(stop !== undefined, 'the adapter declares changeFeed but has no subscribe');
  return { state, stop };
}

/**
 * Commit sizes whose last ids cross every place a counter compared as text or kept in a byte
 * or a short could stop: 10, 100, 256, 1000, 1024; single commits around each.
 */
export const FEED_BATCHES: readonly number[] = (() => {
  const out: number[] = [];
  let last = 0;
  for (const edge of [10, 100, 256, 512, 1000, 1024]) {
    const to = edge - 3;
    if (to > last) out.push(to - last);
    for (let i = 0; i < 5; i++) out.push(1);
    last = to + 5;
  }
  return out;
})();

/** After each commit (its last id given), waits until a read made on a signal saw it. */
async function signalled(feed: ReturnType<typeof follow>, lastId: number, what: string): Promise<void> {
  await until(
    () => feed.state.error !== undefined || feed.state.seen >= lastId,
    () =>
      `${what}: commit up to _sync_id ${lastId} is committed, but no read made on a signal of the feed saw it within ${BOUND_MS} ms ` +
      `(${feed.state.signals} signal(s) so far, the reads saw up to ${feed.state.seen}): the feed went silent, or signalled before the commit was visible`,
  );
  if (feed.state.error !== undefined) throw feed.state.error;
}

async function writeSteps(store: Store, batches: readonly number[], onCommit: (lastId: number, n: number) => Promise<void>): Promise<void> {
  for (const [n, size] of batches.entries()) {
    const docs = await store.insertMany('feed', Array.from({ length: size }, (_, k) => ({ id: `s${n}-${k}` })));
    await onCommit((docs[docs.length - 1] as { _sync_id: number })._sync_id, n);
  }
}

export const changeFeedGroupDef: Group = {
  id: 'change-feed',
  title: 'Change feed (subscribe)',
  requires: needs('changeFeed'),
  checks: [
    {
      name: 'after unsubscribing, the listener is never called again and the adapter holds no timer for it',
      run: (scope) =>
        scope.child(async (s) => {
          const name = s.storeName('unsub');
          const store = await s.store(name);
          const timers = await watchTimers();
          timers?.start();
          try {
            const adapter = store.adapter;
            const control = counter();
            const target = counter();
            const stopControl = adapter.subscribe?.(control.listener);
            const stopTarget = adapter.subscribe?.(target.listener);
            ok(stopControl !== undefined && stopTarget !== undefined, 'the adapter declares changeFeed but has no subscribe');
            if (stopControl === undefined || stopTarget === undefined) return;
            await store.insert('feed', { id: 'first' });
            await until(() => control.calls > 0 && target.calls > 0, () => 'a commit of this instance never reached its listeners');
            stopTarget();
            stopTarget(); // idempotent
            const after = target.calls;
            const writers: Store[] = [store];
            if (s.caps.multiProcess) writers.push(await s.store(name));
            for (const [i, writer] of writers.entries()) {
              for (let k = 0; k < 3; k++) {
                const before = control.calls;
                await writer.insert('feed', { id: `w${i}-${k}` });
                // The listener still subscribed is the clock: once it heard the commit, so would the other.
                await until(() => control.calls > before, () => `a commit of ${i === 0 ? 'this' : 'another'} instance never reached the listener still subscribed`);
              }
            }
            ok(target.calls === after, `a listener was called ${target.calls - after} time(s) after the function subscribe returned was called`);
            stopControl();
            if (timers !== undefined) {
              for (const writer of writers.slice(1)) await s.closeOne(writer);
              await until(
                () => timers.alive() === 0,
                () => `every listener is unsubscribed, yet ${timers.alive()} timer(s) created since subscribing are still active (a poll timer left running until close)`,
              );
            }
          } finally {
            timers?.stop();
          }
        }),
    },
    {
      name: 'another instance: every commit of a long run of ids is signalled, and the read on the signal sees it',
      requires: needs('multiProcess'),
      run: (scope) =>
        scope.child(async (s) => {
          const name = s.storeName('feed-run');
          const watching = await s.adapter(name);
          const feed = follow(watching);
          try {
            // Fresh writers first: a first commit must not be signalled before it is visible.
            for (let i = 0; i < 3; i++) {
              const fresh = await s.store(name);
              const doc = await fresh.insert('feed', { id: `fresh-${i}` });
              await signalled(feed, doc._sync_id, `the first commit of a fresh instance (${i + 1} of 3)`);
              await s.closeOne(fresh);
            }
            const writer = await s.store(name);
            await writeSteps(writer, FEED_BATCHES, (lastId, n) => signalled(feed, lastId, `commit ${n + 1} of ${FEED_BATCHES.length} of another instance`));
          } finally {
            feed.stop();
          }
        }),
    },
    {
      name: 'writer process: every commit of a long run of ids is signalled, and the read on the signal sees it',
      requires: all(needs('multiProcess'), needsChildren),
      timeout: 240_000,
      run: (scope) =>
        scope.child(async (s) => {
          const { spawnChild } = await import('../child/spawn.js');
          const { writeFile } = await import('node:fs/promises');
          const { join } = await import('node:path');
          const name = s.storeName('feed-proc');
          const watching = await s.adapter(name);
          const feed = follow(watching);
          const dir = await s.run.dir();
          const stepFile = join(dir, `${name}-step`);
          const child = await spawnChild({ mode: 'steps', module: s.run.options.module as string, storeName: name, dir, tag: 'p', batches: FEED_BATCHES, stepFile });
          try {
            for (let n = 0; n < FEED_BATCHES.length; n++) {
              await writeFile(`${stepFile}-${n}`, '');
              await child.until((m) => m.some((x) => x.t === 'commit' && x.n === n), `commit ${n} of the writer process`);
              const msg = child.messages.find((x) => x.t === 'commit' && x.n === n) as { ids: readonly number[] };
              await signalled(feed, Math.max(...msg.ids), `commit ${n + 1} of ${FEED_BATCHES.length} of a writer process`);
            }
            const exit = await child.exited;
            ok(exit.code === 0, `the writer process failed (exit ${String(exit.code)}):\n${child.stderr()}`);
          } finally {
            feed.stop();
            child.kill();
          }
        }),
    },
  ],
};
