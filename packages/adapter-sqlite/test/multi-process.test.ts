import { openStore } from '@cse/core';
import type { Change } from '@cse/core';
import { describe, expect, it } from 'vitest';
import { SqliteAdapter } from '@cse/adapter-sqlite';
import { childScript, runChild, tempDb } from './helpers.js';

const WORKERS = 4;
const ROUNDS = 40;

interface Ack {
  ids: string[];
  syncIds: number[];
}

describe('several processes on one file', () => {
  it('hand out unique, increasing sync ids, lose nothing, and serialise optimistic writes', async () => {
    const path = tempDb();
    // The file does not exist yet: the children and the reader race to create the schema.
    const children = Array.from({ length: WORKERS }, (_, w) => runChild(childScript('writer.ts'), [path, String(w), String(ROUNDS)]));
    const reader = openStore(new SqliteAdapter({ path }));
    let finished = false;
    const all = Promise.all(children).finally(() => (finished = true));
    all.catch(() => {}); // awaited below; this only keeps a failing child from being reported twice

    // A reader polling while the writers commit must see every change exactly once, in
    // ascending order, with no id surfacing after a larger one (guarantee 2).
    const seen: Change[] = [];
    let cursor = 0;
    for (;;) {
      const done = finished;
      const page = await reader.changesSince(cursor, { limit: 50 });
      seen.push(...page.changes);
      cursor = page.cursor;
      if (done && !page.hasMore) break;
      if (!page.hasMore) await new Promise((r) => setTimeout(r, 5));
    }
    const outputs = await all;

    const acks = outputs.map((out) =>
      out
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Ack),
    );
    const acknowledged = acks.flat();
    expect(acknowledged).toHaveLength(WORKERS * ROUNDS);

    // Within each process, commit order is ack order: its sync ids strictly increase.
    for (const list of acks) {
      const ids = list.flatMap((a) => a.syncIds);
      for (let i = 1; i < ids.length; i++) expect(ids[i]).toBeGreaterThan(ids[i - 1] as number);
    }

    // Every acknowledged write is there, with the sync id it was given.
    const items = await reader.find('items');
    const byId = new Map(items.map((d) => [d.id, d._sync_id]));
    for (const ack of acknowledged) ack.ids.forEach((id, k) => expect(byId.get(id)).toBe(ack.syncIds[k]));
    const expectedItems = WORKERS * (ROUNDS / 2) * 3;
    expect(items).toHaveLength(expectedItems);

    // Each shared increment went through exactly once.
    const counter = await reader.get('shared', 'counter');
    expect(counter?.n).toBe(WORKERS * ROUNDS);
    expect(counter?._version).toBe(WORKERS * ROUNDS);

    // Sync ids: unique, and the counter is the highest one ever given. Every commit took
    // consecutive ids and none failed midway, so they are exactly 1..last.
    const last = await reader.lastSyncId();
    expect(last).toBe(expectedItems + WORKERS * ROUNDS);
    const itemIds = items.map((d) => d._sync_id);
    expect(new Set(itemIds).size).toBe(itemIds.length);
    expect(Math.max(...itemIds, counter?._sync_id ?? 0)).toBe(last);

    // The polling reader: ascending, and it ended up with every item exactly in its final state.
    for (let i = 1; i < seen.length; i++) expect(seen[i]?.syncId).toBeGreaterThan(seen[i - 1]?.syncId as number);
    const seenItems = seen.filter((c) => c.collection === 'items');
    expect(new Set(seenItems.map((c) => c.id)).size).toBe(expectedItems);
    expect(cursor).toBe(last);
    await reader.close();
  });
});
