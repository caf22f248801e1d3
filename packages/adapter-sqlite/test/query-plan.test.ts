import BetterSqlite3 from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { SqliteAdapter } from '@cse/adapter-sqlite';
import { SQL } from '../src/statements.js';
import { tempDb } from './helpers.js';

/** The `detail` lines of SQLite's plan for `sql`. */
function plan(db: BetterSqlite3.Database, sql: string, ...params: unknown[]): string[] {
  return (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((r) => r.detail);
}

describe('query plans', () => {
  it('reads changes through the sync_id index, with and without a collection filter', async () => {
    const db = new BetterSqlite3(tempDb());
    const adapter = new SqliteAdapter({ database: db });
    // Enough rows in several collections, and fresh statistics, so the planner has real choices.
    const insert = db.prepare('INSERT INTO cse_docs VALUES (?, ?, ?, 1, 0, ?)');
    db.transaction(() => {
      for (let i = 1; i <= 2000; i++) insert.run(`c${i % 7}`, `d${i}`, i, '{}');
    })();
    db.exec('ANALYZE');
    for (const [sql, params] of [
      [SQL.changes, [1990, 10]],
      [SQL.changesIn, [1990, '["c1","c2"]', 10]],
    ] as const) {
      const detail = plan(db, sql, ...params);
      expect(detail.some((d) => /SEARCH cse_docs USING (COVERING )?INDEX cse_docs_sync_id \(sync_id>\?\)/.test(d)), detail.join('\n')).toBe(true);
      expect(detail.some((d) => /SCAN cse_docs\b/.test(d)), detail.join('\n')).toBe(false);
      expect(detail.some((d) => d.includes('TEMP B-TREE')), detail.join('\n')).toBe(false);
    }
    // Compaction finds its tombstones by sync_id range too, and a collection scan uses the key.
    expect(plan(db, SQL.compact, 10).join('\n')).toMatch(/cse_docs_sync_id \(sync_id<\?\)/);
    expect(plan(db, SQL.scan, 'c1').join('\n')).toMatch(/SEARCH cse_docs USING INDEX sqlite_autoindex_cse_docs_1 \(collection=\?\)/);
    await adapter.close();
    db.close();
  });
});
