/**
 * `changesWithSequence` (capability `sequencedChanges`) reads one state, checked while another
 * instance (and, where the adapter is multi-process, another process) commits inserts and
 * updates. Without compaction, in one consistent state the newest record holds the counter's
 * value: so a page that is not full ends exactly at its `sequence.lastSyncId`, and no record is
 * above it. A counter read apart from the page (after it, or before it) breaks one of the two.
 */
import type { SequenceState, StorageAdapter, StoredRecord } from '@cse/core';
import { fail, ok, show } from '../assert.js';
import type { Group } from '../group.js';
import { all, needs, needsChildren } from '../group.js';

/** Reads pages until `done()`, checking each; returns how many pages saw the store move. */
async function readPages(adapter: StorageAdapter, done: () => boolean, what: string): Promise<number> {
  const page = adapter.changesWithSequence?.bind(adapter);
  ok(page !== undefined, 'the adapter declares sequencedChanges but has no changesWithSequence');
  if (page === undefined) return 0;
  let moving = 0;
  let previous = -1;
  for (let reads = 0; !done() || reads < 3; reads++) {
    const after = Math.max(0, previous - 8);
    const got: { readonly records: StoredRecord[]; readonly sequence: SequenceState } = await page(after, { limit: 10_000 });
    const ids = got.records.map((r) => r.syncId);
    const last = got.sequence.lastSyncId;
    const top = ids.length === 0 ? after : (ids[ids.length - 1] as number);
    if (ids.some((id) => id > last)) fail(`${what}: changesWithSequence(${after}) returned _sync_id ${top} above its own counter ${last} (the counter was read before the page)`);
    if (last > after && top !== last) {
      fail(
        `${what}: changesWithSequence(${after}) returned counter ${last} but its page ends at _sync_id ${top}, with room to spare ` +
          `(${ids.length} of 10000): changes up to ${last} that the page does not hold (the counter was read after the page, in another state); page ${show(ids.slice(-8))}`,
      );
    }
    if (last !== previous) moving++;
    previous = last;
    // A synchronous backend resolves at once: let timers and I/O (a child's exit) run.
    await new Promise((r) => setTimeout(r, 0));
  }
  return moving;
}

export const sequencedChangesGroupDef: Group = {
  id: 'sequenced-changes',
  title: 'Sequenced changes (one state)',
  requires: needs('sequencedChanges'),
  checks: [
    {
      name: 'a page and its counter are one state while another instance commits',
      requires: needs('multiProcess'),
      run: (scope) =>
        scope.child(async (s) => {
          const name = s.storeName('seq-inst');
          const reader = await s.adapter(name);
          const writer = await s.store(name);
          let done = false;
          const writing = (async () => {
            try {
              for (let i = 0; i < 80; i++) {
                if (i % 4 === 3) await writer.upsert('seq', { id: 'shared', i });
                else await writer.insert('seq', { id: `d${i}` });
              }
            } finally {
              done = true;
            }
          })();
          const moving = await readPages(reader, () => done, 'another instance commits');
          await writing;
          ok(moving > 1, `the reader saw the store move only ${moving} time(s): the check did not overlap the writes`);
        }),
    },
    {
      name: 'a page and its counter are one state while another process commits',
      requires: all(needs('multiProcess'), needsChildren),
      timeout: 240_000,
      run: (scope) =>
        scope.child(async (s) => {
          const { spawnChild } = await import('../child/spawn.js');
          const name = s.storeName('seq-proc');
          const reader = await s.adapter(name);
          const child = await spawnChild({ mode: 'writer', module: s.run.options.module as string, storeName: name, dir: await s.run.dir(), tag: 'seq', commits: 30 });
          let exited = false;
          const exit = child.exited.finally(() => {
            exited = true;
          });
          try {
            await child.until((m) => m.some((x) => x.t === 'ready'), 'the writer process opening the store');
            await readPages(reader, () => exited, 'a writer process commits');
            const { code } = await exit;
            ok(code === 0, `the writer process failed (exit ${String(code)}):\n${child.stderr()}`);
          } finally {
            child.kill();
          }
        }),
    },
  ],
};
