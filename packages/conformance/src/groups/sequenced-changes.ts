/**
 * `changesWithSequence` (capability `sequencedChanges`) reads one state, checked while another
 * instance commits inserts and updates (and, in the multi-process group, while writer
 * processes commit: `checkSequencedPage`). Without compaction, in one consistent state the newest record holds the counter's
 * value: so a page that is not full ends exactly at its `sequence.lastSyncId`, and no record is
 * above it. A counter read apart from the page (after it, or before it) breaks one of the two.
 */
import type { SequenceState, StorageAdapter, StoredRecord } from '@cse/core';
import { fail, ok, show } from '../assert.js';
import type { Group } from '../group.js';
import { needs } from '../group.js';

/**
 * Reads one page with `changesWithSequence(after)` and checks it is one state; returns its
 * counter. Also called by the multi-process group while writer processes commit.
 */
export async function checkSequencedPage(adapter: StorageAdapter, after: number, what: string): Promise<number> {
  const page = adapter.changesWithSequence?.bind(adapter);
  ok(page !== undefined, 'the adapter declares sequencedChanges but has no changesWithSequence');
  if (page === undefined) return 0;
  const got: { readonly records: StoredRecord[]; readonly sequence: SequenceState } = await page(after, { limit: 10_000 });
  const ids = got.records.map((r) => r.syncId);
  const last = got.sequence.lastSyncId;
  const top = ids.length === 0 ? after : (ids[ids.length - 1] as number);
  if (ids.some((id) => id > last)) fail(`${what}: changesWithSequence(${after}) returned _sync_id ${top} above its own counter ${last} (the counter was read before the page)`);
  if (last > after && top !== last && ids.length < 10_000) {
    fail(
      `${what}: changesWithSequence(${after}) returned counter ${last} but its page ends at _sync_id ${top}, with room to spare ` +
        `(${ids.length} of 10000): changes up to ${last} that the page does not hold (the counter was read after the page, in another state); page ${show(ids.slice(-8))}`,
    );
  }
  return last;
}

/** Reads pages until `done()`, checking each; returns how many pages saw the store move. */
async function readPages(adapter: StorageAdapter, done: () => boolean, what: string): Promise<number> {
  let moving = 0;
  let previous = -1;
  for (let reads = 0; !done() || reads < 3; reads++) {
    const last = await checkSequencedPage(adapter, Math.max(0, previous - 8), what);
    if (last !== previous) moving++;
    previous = last;
    // A synchronous backend resolves at once: let timers and I/O run.
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
  ],
};
