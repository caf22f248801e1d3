import { describe, expect, it } from 'vitest';
import { MemoryLevel } from 'memory-level';
import type { AbstractIterator, AbstractIteratorOptions } from 'abstract-level';
import { LevelAdapter } from '@cse/adapter-level';
import { commitOk, del, put } from './helpers.js';

/** A real memory-level database that keeps its entry iterators, to count the entries each one yielded. */
class CountingLevel extends MemoryLevel<string, string> {
  readonly iterators: AbstractIterator<typeof this, string, string>[] = [];

  // Sublevels read through the root database's public iterator(), so this sees every store.
  override iterator(options?: AbstractIteratorOptions<string, string>): AbstractIterator<typeof this, string, string> {
    const it = super.iterator(options ?? {});
    this.iterators.push(it);
    return it;
  }

  /** Entries read by iterators since the last call. */
  takeCount(): number {
    const n = this.iterators.reduce((sum, it) => sum + it.count, 0);
    this.iterators.length = 0;
    return n;
  }
}

describe('changes is one range scan of the index', () => {
  it('reads O(delta) index entries, however large the store', async () => {
    const db = new CountingLevel();
    for (const namespace of [undefined, 'ns']) {
      const adapter = new LevelAdapter({ db, ...(namespace ? { namespace } : {}) });
      for (let c = 0; c < 20; c++) {
        await commitOk(adapter, ...Array.from({ length: 100 }, (_, i) => put('big', `d${c}-${i}`, { c, i })));
      }
      await commitOk(adapter, put('big', 'd0-0', { again: true }), del('big', 'd0-1'));
      await commitOk(adapter, put('other', 'o1'));
      db.takeCount();

      const page = await adapter.changes(2000, { limit: 100 });
      expect(page.map((r) => [r.id, r.syncId])).toEqual([
        ['d0-0', 2001],
        ['d0-1', 2002],
        ['o1', 2003],
      ]);
      expect(db.takeCount()).toBe(3);

      expect((await adapter.changes(1000, { limit: 5 })).map((r) => r.syncId)).toEqual([1001, 1002, 1003, 1004, 1005]);
      expect(db.takeCount()).toBe(5);

      expect(await adapter.changes(2003, { limit: 100 })).toEqual([]);
      expect(db.takeCount()).toBe(0);

      // A rewritten document leaves its old index entry behind: it appears once, at its new id.
      const all = await adapter.changes(0, { limit: 5000 });
      expect(all).toHaveLength(2001);
      expect(all.filter((r) => r.id === 'd0-0').map((r) => r.syncId)).toEqual([2001]);
      expect(db.takeCount()).toBe(2001);
      await adapter.close();
    }
    await db.close();
  });
});
