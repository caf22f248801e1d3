/**
 * The Edge applies a burst of a Frontend's writes together: writes of different documents share
 * the store's group commit, writes of one document stay in the order they came, and each keeps
 * its own receipt and result (exactly once).
 */
import BetterSqlite3 from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RECEIPT_COLLECTION, openStore } from '@cse/core';
import { SqliteAdapter } from '@cse/adapter-sqlite';
import type { Transport } from '@cse/sync';
import { edgeOn, until } from './helpers.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function sqliteEdge(): { edge: ReturnType<typeof edgeOn>; db: BetterSqlite3.Database; adapter: SqliteAdapter } {
  const dir = mkdtempSync(join(tmpdir(), 'cse-edge-writes-'));
  dirs.push(dir);
  const db = new BetterSqlite3(join(dir, 'edge.db'));
  const adapter = new SqliteAdapter({ database: db });
  return { edge: edgeOn(openStore(adapter), { ackRecordMs: 0 }), db, adapter };
}

/**
 * A raw v2 connection that said hello, as a socket hands frames over: `burst` delivers its
 * frames in one turn of the event loop, as a WebSocket does with what one read brought.
 */
async function connect(edge: ReturnType<typeof edgeOn>): Promise<{ burst: (ms: object[]) => void; got: { t: string; [k: string]: unknown }[] }> {
  const got: { t: string; [k: string]: unknown }[] = [];
  const end: Transport = {
    buffered: 0,
    onmessage: undefined,
    onclose: undefined,
    send: (f) => got.push(JSON.parse(f) as { t: string }),
    close: () => end.onclose?.('closed'),
  };
  edge.sync.accept(end);
  const burst = (ms: object[]): void => {
    for (const m of ms) end.onmessage?.(JSON.stringify(m));
  };
  burst([{ t: 'hello', v: 2, client: 'c1', epoch: null, collections: ['pump_desired'], cursors: {} }]);
  await until(() => got.some((m) => m.t === 'welcome'), 'the welcome');
  return { burst, got };
}

const results = (got: { t: string; [k: string]: unknown }[]) => got.filter((m) => m.t === 'result');

describe('the Edge applies a burst of writes', () => {
  it('of different documents in shared commits, each once with its own receipt and result', async () => {
    const { edge, db, adapter } = sqliteEdge();
    const c = await connect(edge);
    db.pragma('wal_checkpoint(TRUNCATE)');
    const N = 60;
    c.burst(Array.from({ length: N }, (_, i) => ({ t: 'write', w: `w${i}`, c: 'pump_desired', id: `p${i}`, base: 0, body: { rpm: i } })));
    await until(() => results(c.got).length === N, () => `${N} results, got ${results(c.got).length}`);
    const [row] = db.pragma('wal_checkpoint(PASSIVE)') as { log: number }[];
    // One transaction per write would have written at least one WAL frame each.
    expect((row as { log: number }).log).toBeLessThan(N);
    expect(results(c.got).every((r) => r.ok === true && r.dup === false && r.version === 1)).toBe(true);
    expect(new Set(results(c.got).map((r) => r.w)).size).toBe(N);
    for (let i = 0; i < N; i++) expect(await edge.store.get('pump_desired', `p${i}`)).toMatchObject({ rpm: i, _version: 1 });
    const receipts = await adapter.changes(0, { collections: [RECEIPT_COLLECTION], limit: 1000 });
    expect(receipts.map((r) => r.id).sort()).toEqual(Array.from({ length: N }, (_, i) => `c1/w${i}`).sort());
    // Sent again (a lost result): answered as duplicates, applied nothing more.
    const before = await edge.store.lastSyncId();
    c.burst(Array.from({ length: N }, (_, i) => ({ t: 'write', w: `w${i}`, c: 'pump_desired', id: `p${i}`, base: 0, body: { rpm: i } })));
    await until(() => results(c.got).length === 2 * N, 'the duplicate results');
    expect(results(c.got).slice(N).every((r) => r.ok === true && r.dup === true)).toBe(true);
    expect(await edge.store.lastSyncId()).toBe(before);
    await edge.sync.close();
    await edge.store.close();
    db.close();
  });

  it('of one document in the order they came (the second builds on the first)', async () => {
    const { edge, db } = sqliteEdge();
    const c = await connect(edge);
    const N = 20;
    // Interleaved with writes of other documents, which may go first.
    c.burst(Array.from({ length: N }, (_, i) => [
      { t: 'write', w: `w${i}`, c: 'pump_desired', id: 'same', base: i, body: { rpm: i } },
      { t: 'write', w: `o${i}`, c: 'pump_desired', id: `other-${i}`, base: 0, body: { rpm: i } },
    ]).flat());
    await until(() => results(c.got).length === 2 * N, 'every result');
    const mine = results(c.got).filter((r) => String(r.w).startsWith('w'));
    expect(mine.map((r) => [r.w, r.ok, r.version])).toEqual(Array.from({ length: N }, (_, i) => [`w${i}`, true, i + 1]));
    expect(await edge.store.get('pump_desired', 'same')).toMatchObject({ rpm: N - 1, _version: N });
    await edge.sync.close();
    await edge.store.close();
    db.close();
  });
});
