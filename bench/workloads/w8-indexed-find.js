// W8: one match by an indexed field. `store.find(COLLECTION, { filter: { uptimeSec: k } })` on a
// collection of 1k, 10k and 100k documents with `store.createIndex(COLLECTION, 'uptimeSec')`
// (each document has its own uptimeSec, so exactly one matches), against the same lookup
// written by hand on better-sqlite3: one table of JSON documents, an expression index on
// json_extract(doc, '$.uptimeSec'), a prepared SELECT and JSON.parse of the row. The baseline is
// the same hand-written SQLite for every adapter (the goal is stated against it): the 100k find
// within 3x of it, and no growth with the collection (100k/1k find time below 2).
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openStore } from '@cse/core';
import { COLLECTION, batch } from '../lib/docs.js';

const FIELD = 'uptimeSec';
const CHUNK = 1000;

/** The hand-written SQLite side, on a file in the suite's directory (WAL, as the adapter). */
function handWritten(path, size) {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(`CREATE TABLE docs (id TEXT PRIMARY KEY, doc TEXT NOT NULL) WITHOUT ROWID;
    CREATE INDEX docs_uptime ON docs (json_extract(doc, '$.${FIELD}'));`);
  const insert = db.prepare('INSERT INTO docs VALUES (?, ?)');
  db.transaction(() => {
    for (const d of batch('doc-', 0, size)) insert.run(d.id, JSON.stringify(d));
  })();
  const find = db.prepare(`SELECT doc FROM docs WHERE json_extract(doc, '$.${FIELD}') = ?`).pluck();
  return {
    find: (k) => find.all(k).map((text) => JSON.parse(text)),
    close: async () => db.close(),
  };
}

/** The CSE side: a Store on the suite's adapter, seeded straight through the adapter, then indexed. */
async function cse(ctx, name, size) {
  const adapter = await ctx.entry.adapter(name, ctx.env);
  const store = openStore(adapter);
  const docs = batch('doc-', 0, size);
  for (let i = 0; i < docs.length; i += CHUNK) {
    const writes = docs.slice(i, i + CHUNK).map((body) => ({ collection: COLLECTION, id: body.id, kind: 'put', body }));
    const result = await adapter.commit({ writes, now: new Date().toISOString() });
    if (!result.ok) throw new Error('seeding failed');
  }
  const started = performance.now();
  await store.createIndex(COLLECTION, FIELD);
  const buildMs = performance.now() - started;
  return {
    buildMs,
    find: (k) => store.find(COLLECTION, { filter: { [FIELD]: k } }),
    close: async () => {
      await store.close();
      await ctx.entry.drop?.(name, ctx.env);
    },
  };
}

function step(side, size) {
  let k = 0;
  return async () => {
    k = (k + 7919) % size; // a different document each time, all over the collection
    const found = await side.find(k);
    if (found.length !== 1 || found[0][FIELD] !== k) throw new Error(`expected the one document with ${FIELD} ${k}, got ${found.length}`);
    return 1;
  };
}

export default {
  id: 'W8',
  title: 'indexed find: one match by an indexed field, 1k/10k/100k documents, vs hand-written SQLite with an expression index',
  unit: 'finds/s',
  target: { maxSlowdown: 3, maxGrowth: 2, text: 'largest: find time within 3x of hand-written SQLite; largest/smallest find time < 2' },
  async run(ctx) {
    const sizes = ctx.params.indexedSizes ?? [1_000, 10_000, 100_000];
    const results = [];
    for (const size of sizes) {
      const name = `w8-${size}`;
      const raw = handWritten(join(ctx.env.dir, `${name}.hand.db`), size);
      const side = await cse(ctx, name, size);
      try {
        const r = await ctx.measure({ raw: step(raw, size), cse: step(side, size) });
        results.push({ size, buildMs: side.buildMs, ...r });
      } finally {
        await side.close();
        await raw.close();
      }
    }
    const first = results[0];
    const last = results[results.length - 1];
    return {
      cse: last.cse,
      raw: last.raw,
      pairedSlowdown: last.pairedSlowdown,
      sizes: results,
      // Find time ratio largest/smallest = smallest rate / largest rate.
      growth: { cse: first.cse.opsPerSec / last.cse.opsPerSec, raw: first.raw.opsPerSec / last.raw.opsPerSec },
    };
  },
};
