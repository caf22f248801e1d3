import { describe, expect, it } from 'vitest';
import { OpType, TxCache, openStore } from '@cse/core';
import type { Store } from '@cse/core';
import { SqliteAdapter } from '../src/index.js';
import { tempDb } from './helpers.js';

describe('TxCache.replay by concurrent callers on one SQLite file', () => {
  it('reports each transaction as committed by exactly one caller, the one whose commit applied it', async () => {
    const path = tempDb();
    const stores: Store[] = [openStore(new SqliteAdapter({ path })), openStore(new SqliteAdapter({ path }))];
    try {
      const writer = new TxCache(stores[0]!);
      const ids: string[] = [];
      for (let i = 0; i < 60; i++) {
        const tx = await writer.beginTx();
        await writer.recordOp(tx, OpType.Insert, 'pumps', { id: `p${i}`, rpm: i });
        ids.push(tx);
      }
      const pending = await writer.getPending();
      expect(pending).toHaveLength(60);
      // Four replayers, two per store, all started before any finishes.
      const caches = [0, 1, 0, 1].map((s) => new TxCache(stores[s]!));
      const reports = await Promise.all(caches.map((c) => c.replay(pending)));
      const committed = reports.flatMap((r) => r.committed);
      expect(reports.flatMap((r) => r.failed)).toEqual([]);
      expect(committed.sort()).toEqual([...ids].sort());
      for (const r of reports) expect([...r.committed, ...r.skipped].sort()).toEqual([...ids].sort());
      expect(await stores[1]!.find('pumps')).toHaveLength(60);
      expect(await writer.getPending()).toEqual([]);
      // Replaying again commits nothing.
      const again = await caches[1]!.replay(pending);
      expect(again.committed).toEqual([]);
      expect(again.skipped).toHaveLength(60);
    } finally {
      for (const s of stores) await s.close();
    }
  });
});
