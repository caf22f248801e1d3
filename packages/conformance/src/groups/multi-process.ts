/**
 * Several processes on one store (guarantees 1-3 across processes): child processes commit
 * their own documents and increment a shared counter with optimistic retries, while readers
 * follow `changesSince` (a reader process, and the parent). Ids are unique and increase in each
 * writer's order; no increment is lost (exactly one winner per version); no id becomes visible
 * after a larger one; the readers miss nothing. Rounds scale with `--runs`.
 */
import type { Change } from '@cse/core';
import { equal, ok, show } from '../assert.js';
import type { ChildMessage } from '../child/protocol.js';
import type { Child } from '../child/spawn.js';
import type { Scope } from '../context.js';
import { drain } from '../fixtures.js';
import type { Group } from '../group.js';
import { checkSequencedPage } from './sequenced-changes.js';
import { all, needs, needsChildren } from '../group.js';

/** Writer processes per round: enough that commits of several processes interleave all the time. */
export const WRITERS = 4;
/** Commits per writer per round. */
export const COMMITS = 50;

/** Rounds (fresh store and processes each): 3 at the default 25 runs, scaling with `--runs`. */
export function multiProcessRounds(numRuns: number): number {
  return Math.max(1, Math.round(numRuns / 8));
}

async function round(s: Scope, r: number): Promise<void> {
  const { spawnChild } = await import('../child/spawn.js');
  const name = s.storeName(`multi-r${r}`);
  const store = await s.store(name);
  await store.insert('mp', { id: 'start' });
  const dir = await s.run.dir();
  const { join } = await import('node:path');
  const { writeFile } = await import('node:fs/promises');
  const startFile = join(dir, `${name}.start`);
  const stopFile = join(dir, `${name}.stop`);
  const module = s.run.options.module as string;
  const [readerChild, ...children] = await Promise.all([
    spawnChild({ mode: 'reader', module, storeName: name, dir, tag: 'reader', stopFile }),
    ...Array.from({ length: WRITERS }, (_, i) => spawnChild({ mode: 'writer', module, storeName: name, dir, tag: `r${r}w${i}`, commits: COMMITS, startFile })),
  ]);
  const readerProc = readerChild as Child;
  try {
    // Start the writers together, so their commits really interleave, with the reader already following.
    await Promise.all([readerProc, ...children].map((c) => c.until((m) => m.some((x) => x.t === 'ready'), 'the child to open the store')));
    await writeFile(startFile, 'go');
    // The parent follows the store too, in its own process.
    const view = new Map<string, Change>();
    let cursor = 0;
    let running = true;
    const exits = Promise.all(children.map((c) => c.exited)).finally(() => {
      running = false;
    });
    while (running) {
      // Where declared, a sequenced page read directly is one state too, while processes commit.
      // (A missing method is the capabilities group's verdict, not this group's.)
      if (s.caps.sequencedChanges && store.adapter.changesWithSequence) await checkSequencedPage(store.adapter, Math.max(0, cursor - 8), `round ${r}, writer processes commit`);
      const page = await store.changesSince(cursor, { limit: 7 });
      for (const c of page.changes) {
        ok(c.syncId > cursor, `round ${r}: the reader got _sync_id ${c.syncId} at cursor ${cursor}`);
        view.set(`${c.collection}/${c.id}`, c);
      }
      cursor = page.cursor;
      if (page.changes.length === 0) await new Promise((res) => setImmediate(res));
    }
    const results = await exits;
    results.forEach((res, i) => {
      ok(res.code === 0, `round ${r}: writer ${i} failed (exit ${String(res.code)}, signal ${String(res.signal)}):\n${(children[i] as Child).stderr()}`);
    });
    await writeFile(stopFile, 'stop');
    await readerProc.until((m) => m.some((x) => x.t === 'seen'), 'the reader process to report what it saw');
    for (const c of await drain(store, cursor, 7)) view.set(`${c.collection}/${c.id}`, c);

    const all: number[] = [];
    let increments = 0;
    children.forEach((child, i) => {
      const ids = child.messages.flatMap((m: ChildMessage) => (m.t === 'commit' ? m.ids : m.t === 'increment' ? [m.syncId] : []));
      ok(
        ids.every((id, k) => k === 0 || id > (ids[k - 1] as number)),
        `round ${r}: writer ${i}: ids must increase in its own commit order: ${show(ids)}`,
      );
      all.push(...ids);
      increments += child.messages.filter((m) => m.t === 'increment').length;
    });
    ok(new Set(all).size === all.length, `round ${r}: two writes of different processes got the same _sync_id: ${show(all.sort((a, b) => a - b))}`);
    const counter = await store.get('mp', 'counter');
    equal(counter?.value, increments, `round ${r}: the shared counter after ${increments} optimistic increments from ${WRITERS} processes (a lost update means two writers won one version)`);
    ok((await store.lastSyncId()) >= Math.max(...all), `round ${r}: lastSyncId is at least every acknowledged id`);

    const seen = readerProc.messages.find((m) => m.t === 'seen');
    if (seen?.t !== 'seen') throw new Error('the reader process sent no report');
    ok(
      seen.late.length === 0,
      `round ${r}: an id became visible after a larger one was visible (guarantee 2: a record must become visible together with every smaller id), seen by the reader process: ${show(seen.late.slice(0, 5))}`,
    );
    const readerView = new Map(seen.view);
    const truth = await drain(store, 0);
    for (const c of truth) {
      const key = `${c.collection}/${c.id}`;
      ok(readerView.get(key) === c.syncId, `round ${r}: the reader process following changesSince missed ${key} at _sync_id ${c.syncId} (it last saw ${String(readerView.get(key))}): a lost change`);
      ok(view.get(key)?.syncId === c.syncId, `round ${r}: the reader in the parent process missed ${key} at _sync_id ${c.syncId} (it last saw ${String(view.get(key)?.syncId)}): a lost change`);
    }
    equal(view.size, truth.length, `round ${r}: the reader saw exactly the documents of the store`);
  } finally {
    for (const c of [readerProc, ...children]) c.kill();
    await s.closeOne(store);
  }
}

export const multiProcessGroupDef: Group = {
  id: 'multi-process',
  title: 'Multi-process',
  requires: all(needs('multiProcess'), needsChildren),
  checks: [
    {
      name: 'concurrent writer processes and a reader process: unique ids in each writer’s order, no lost increment, no id visible after a larger one, a reader misses nothing',
      timeout: 300_000,
      run: async (scope) => {
        const rounds = multiProcessRounds(scope.settings.numRuns);
        for (let r = 0; r < rounds; r++) await scope.child((s) => round(s, r));
        scope.noteRuns(rounds);
      },
    },
  ],
};
