/**
 * Guarantee 2: a reader that follows `changesSince`, moving its cursor to the highest id it
 * received, gets every committed change, also while others write.
 */
import type { Change, Store } from '@cse/core';
import { openStore } from '@cse/core';
import fc from 'fast-check';
import { equal, ok, show } from '../assert.js';
import { tickingClock } from '../context.js';
import type { Scope } from '../context.js';
import type { AdapterEvent, PlainWrite } from '../fixtures.js';
import { COLLECTIONS, IDS, applyWrite, checkPage, drain, instrument, plainWriteArb } from '../fixtures.js';
import type { Group } from '../group.js';
import { checkProperty } from '../property.js';

/** What a reader knows: the last change it got per document. */
class Reader {
  cursor = 0;
  readonly view = new Map<string, Change>();
  pages = 0;

  constructor(
    readonly store: Store,
    readonly limit: number,
  ) {}

  /** Reads one page; returns whether it was empty. */
  async step(): Promise<boolean> {
    const before = this.cursor;
    const page = await this.store.changesSince(before, { limit: this.limit });
    checkPage(page, before, this.limit, `page ${++this.pages} after cursor ${before}`);
    for (const c of page.changes) this.view.set(`${c.collection}\u0000${c.id}`, c);
    this.cursor = page.cursor;
    return page.changes.length === 0;
  }

  async catchUp(): Promise<void> {
    for (let i = 0; i < 10_000; i++) if (await this.step()) return;
  }
}

/** The reader's view must equal the store's state, document by document. */
async function checkView(reader: Reader, store: Store, what: string): Promise<void> {
  const truth = await drain(store, 0);
  for (const c of truth) {
    const seen = reader.view.get(`${c.collection}\u0000${c.id}`);
    ok(
      seen !== undefined && seen.syncId === c.syncId,
      `${what}: the reader missed a change: ${c.collection}/${JSON.stringify(c.id)} is at _sync_id ${c.syncId} (version ${c.version}${c.deleted ? ', deleted' : ''}) ` +
        `but the reader last saw ${seen ? `_sync_id ${seen.syncId}` : 'nothing'} (its cursor is ${reader.cursor})`,
    );
  }
  equal(reader.view.size, truth.length, `${what}: the reader saw documents the store does not have`);
  for (const c of COLLECTIONS) {
    for (const id of IDS) {
      const seen = reader.view.get(`${c}\u0000${id}`);
      const live = await store.get(c, id);
      equal(seen && !seen.deleted ? seen.doc : undefined, live, `${what}: the reader's copy of ${c}/${JSON.stringify(id)} equals get()`);
    }
  }
}

const pauseArb = fc.integer({ min: 0, max: 2 });

async function concurrentRun(scope: Scope, writes: readonly PlainWrite[], limit: number, sch: fc.Scheduler | undefined): Promise<void> {
  await scope.child(async (s) => {
    const log: AdapterEvent[] = [];
    const adapter = await s.adapter(s.storeName('reader'));
    const store = openStore(instrument(adapter, log, sch), { clock: tickingClock() });
    const reader = new Reader(store, limit);
    let writing = true;
    const writers = Promise.all(
      writes.map(async (w, i) => {
        // Without a scheduler, stagger the writers over a few macrotasks so the reader runs between them.
        if (!sch) await new Promise((r) => setTimeout(r, i % 3));
        return applyWrite(store, w);
      }),
    ).finally(() => {
      writing = false;
    });
    const reading = (async () => {
      for (let i = 0; writing && i < 500; i++) {
        await reader.step();
        if (!sch) await new Promise((r) => setTimeout(r, 0));
      }
    })();
    const work = Promise.all([writers, reading]);
    await (sch ? sch.waitFor(work) : work);
    // Catch up outside the scheduler, from where the racing reader stopped.
    const plain = openStore(adapter);
    const final = new Reader(plain, limit);
    final.cursor = reader.cursor;
    for (const [k, v] of reader.view) final.view.set(k, v);
    await final.catchUp();
    await checkView(final, plain, `reader with limit ${limit} racing ${writes.length} writers`);
  });
}

export const noLostChangeGroupDef: Group = {
  id: 'no-lost-change',
  title: '2. No lost change',
  checks: [
    {
      name: 'a reader interleaved with writes gets every change; pages are ascending and the cursor never jumps',
      run: (scope) =>
        checkProperty(
          scope,
          'no lost change: interleaved reader',
          fc.asyncProperty(
            fc.array(fc.oneof(plainWriteArb, fc.constant('read' as const)), { maxLength: 40 }),
            fc.integer({ min: 1, max: 4 }),
            (steps, limit) =>
              scope.child(async (s) => {
                const store = await s.store(s.storeName('follow'));
                const reader = new Reader(store, limit);
                for (const step of steps) {
                  if (step === 'read') await reader.step();
                  else await applyWrite(store, step);
                }
                await reader.catchUp();
                await checkView(reader, store, 'after the writes');
                const last = await store.changesSince(reader.cursor, { limit });
                equal(last.changes.length, 0, 'after catching up, nothing is left');
                equal(last.hasMore, false, 'after catching up, hasMore is false');
              }),
          ),
        ),
    },
    {
      name: 'concurrent writers and a reader (scheduler): the reader misses nothing',
      run: (scope) =>
        checkProperty(
          scope,
          'no lost change: fc.scheduler interleavings',
          fc.asyncProperty(fc.scheduler(), fc.array(plainWriteArb, { minLength: 2, maxLength: 10 }), fc.integer({ min: 1, max: 3 }), (sch, writes, limit) =>
            concurrentRun(scope, writes, limit, sch),
          ),
          { scale: 0.6 },
        ),
    },
    {
      name: 'concurrent writers and a reader (real timing): the reader misses nothing',
      run: (scope) =>
        checkProperty(
          scope,
          'no lost change: real concurrency',
          fc.asyncProperty(fc.array(plainWriteArb, { minLength: 4, maxLength: 20 }), pauseArb.map((p) => p + 1), (writes, limit) =>
            concurrentRun(scope, writes, limit, undefined),
          ),
          { scale: 0.6 },
        ),
    },
    {
      name: 'paging: every limit gives the same changes as one big read',
      run: (scope) =>
        checkProperty(
          scope,
          'no lost change: paging',
          fc.asyncProperty(fc.array(plainWriteArb, { maxLength: 30 }), fc.integer({ min: 1, max: 5 }), (writes, limit) =>
            scope.child(async (s) => {
              const store = await s.store(s.storeName('paging'));
              for (const w of writes) await applyWrite(store, w);
              const all = await drain(store, 0, 10_000);
              const paged = await drain(store, 0, limit);
              equal(paged, all, `pages of ${limit} concatenated equal one read of everything`);
              ok(
                all.every((c, i) => i === 0 || c.syncId > (all[i - 1] as Change).syncId),
                `changesSince is ascending by sync id: ${show(all.map((c) => c.syncId))}`,
              );
            }),
          ),
          { scale: 0.5 },
        ),
    },
  ],
};
