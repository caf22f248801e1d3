/**
 * Several processes on one store (guarantees 1-3 across processes): child processes commit
 * their own documents and increment a shared counter with optimistic retries, while the parent
 * follows `changesSince`. Ids are unique and increase in each writer's order; no increment is
 * lost (exactly one winner per version); the reader misses nothing.
 */
import type { Change } from '@cse/core';
import { equal, ok, show } from '../assert.js';
import type { ChildMessage } from '../child/protocol.js';
import { drain } from '../fixtures.js';
import type { Group } from '../group.js';
import { all, needs, needsChildren } from '../group.js';

const WRITERS = 3;
const COMMITS = 16;

export const multiProcessGroupDef: Group = {
  id: 'multi-process',
  title: 'Multi-process',
  requires: all(needs('multiProcess'), needsChildren),
  checks: [
    {
      name: 'concurrent writer processes: unique ids in each writer’s order, no lost increment, a reader misses nothing',
      timeout: 300_000,
      run: (scope) =>
        scope.child(async (s) => {
          const { spawnChild } = await import('../child/spawn.js');
          const name = s.storeName('multi');
          const store = await s.store(name);
          await store.insert('mp', { id: 'start' });
          const dir = await s.run.dir();
          const { join } = await import('node:path');
          const { writeFile } = await import('node:fs/promises');
          const startFile = join(dir, `${name}.start`);
          const children = await Promise.all(
            Array.from({ length: WRITERS }, (_, i) =>
              spawnChild({ mode: 'writer', module: s.run.options.module as string, storeName: name, dir, tag: `w${i}`, commits: COMMITS, startFile }),
            ),
          );
          // Start them together, so their commits really interleave.
          await Promise.all(children.map((c) => c.until((m) => m.some((x) => x.t === 'ready'), 'the writer to open the store')));
          await writeFile(startFile, 'go');
          // Follow the store while the children write.
          const view = new Map<string, Change>();
          let cursor = 0;
          let running = true;
          const exits = Promise.all(children.map((c) => c.exited)).finally(() => {
            running = false;
          });
          while (running) {
            const page = await store.changesSince(cursor, { limit: 7 });
            for (const c of page.changes) {
              ok(c.syncId > cursor, `the reader got _sync_id ${c.syncId} at cursor ${cursor}`);
              view.set(`${c.collection}\u0000${c.id}`, c);
            }
            cursor = page.cursor;
            if (page.changes.length === 0) await new Promise((r) => setTimeout(r, 5));
          }
          const results = await exits;
          results.forEach((r, i) => {
            ok(r.code === 0, `writer ${i} failed (exit ${String(r.code)}, signal ${String(r.signal)}):\n${(children[i] as { stderr(): string }).stderr()}`);
          });
          for (const c of await drain(store, cursor, 7)) view.set(`${c.collection}\u0000${c.id}`, c);

          const all: number[] = [];
          let increments = 0;
          children.forEach((child, i) => {
            const ids = child.messages.flatMap((m: ChildMessage) => (m.t === 'commit' ? m.ids : m.t === 'increment' ? [m.syncId] : []));
            ok(
              ids.every((id, k) => k === 0 || id > (ids[k - 1] as number)),
              `writer ${i}: ids must increase in its own commit order: ${show(ids)}`,
            );
            all.push(...ids);
            increments += child.messages.filter((m) => m.t === 'increment').length;
          });
          ok(new Set(all).size === all.length, `two writes of different processes got the same _sync_id: ${show(all.sort((a, b) => a - b))}`);
          const counter = await store.get('mp', 'counter');
          equal(counter?.value, increments, `the shared counter after ${increments} optimistic increments from ${WRITERS} processes (a lost update means two writers won one version)`);
          ok((await store.lastSyncId()) >= Math.max(...all), 'lastSyncId is at least every acknowledged id');
          const truth = await drain(store, 0);
          for (const c of truth) {
            const seen = view.get(`${c.collection}\u0000${c.id}`);
            ok(seen?.syncId === c.syncId, `the reader missed ${c.collection}/${c.id} at _sync_id ${c.syncId} (it last saw ${String(seen?.syncId)})`);
          }
          equal(view.size, truth.length, 'the reader saw exactly the documents of the store');
        }),
    },
  ],
};
