import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { MemoryLevel } from 'memory-level';
import { ADAPTER_COLLECTION_NAME, docKeyString } from '@cse/core';
import type { DocKey, StorageAdapter } from '@cse/core';
import { LevelAdapter } from '@cse/adapter-level';
import type { LevelDatabase } from '@cse/adapter-level';
import { commitOk, put, tempDir } from './helpers.js';

/** Set CSE_FC_SEED (and CSE_FC_PATH) to replay a failure; fast-check prints both. */
const fcParams = {
  numRuns: Number(process.env['CSE_FC_RUNS'] ?? 60),
  ...(process.env['CSE_FC_SEED'] ? { seed: Number(process.env['CSE_FC_SEED']) } : {}),
  ...(process.env['CSE_FC_PATH'] ? { path: process.env['CSE_FC_PATH'] } : {}),
};

/** Ids chosen to break naive layouts: separators, bounds of ranges, NUL, \xff, astral characters, index-like text. */
const NASTY_IDS = [
  '!', '!!', '"', 'a!', '!a', 'a!b', 'd!a!b', 's!0000000000000001', 'm!last', 'm!compacted', '\u0000', 'x\u0000', '\u0000x',
  '\u00ff', '\u00ff\u00ff', '\uffff', '\ud83d\ude00', '\u{10ffff}', ' ', '%', '\\', '/', '..', '__proto__', 'constructor',
  '0', '-1', 'x'.repeat(1024), '\u0000'.repeat(1024), '!'.repeat(1024),
];
const NASTY_COLLECTIONS = ['a', 'a-', 'a_', 'ab', 'a0', 'A', '_a', '_a-', 'd', 's', 'm', 'z'.repeat(64), '_' + 'Z'.repeat(64)];

const collectionArb = fc.oneof(fc.constantFrom(...NASTY_COLLECTIONS), fc.stringMatching(ADAPTER_COLLECTION_NAME));
const idArb = fc.oneof(
  fc.constantFrom(...NASTY_IDS),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }),
  fc.string({ unit: fc.constantFrom('!', '"', '\u0000', '\u00ff', 'a', 'd', '\uffff', '\ud83d\ude00'), minLength: 1, maxLength: 6 }),
);
const keysArb = fc.uniqueArray(fc.record({ collection: collectionArb, id: idArb }), {
  minLength: 1,
  maxLength: 40,
  selector: (k) => docKeyString(k.collection, k.id),
});

/** Near misses of a key: what a leaky layout would confuse with it. */
function neighbours(k: DocKey): DocKey[] {
  const out: DocKey[] = [
    { collection: k.collection, id: k.id + '\u0000' },
    { collection: k.collection, id: k.id + '!' },
    { collection: k.collection, id: '!' + k.id },
    { collection: k.collection + 'a', id: k.id },
  ];
  const chars = [...k.id];
  if (chars.length > 1) out.push({ collection: k.collection, id: chars.slice(0, -1).join('') });
  return out.filter((n) => n.collection.length <= 64 && n.id.length <= 1024);
}

/**
 * Both key orders a backend may use: UTF-8 bytes (classic-level) and UTF-16 code units
 * (memory-level storing strings).
 */
const backends: [string, (dir: string) => LevelDatabase][] = [
  ['classic-level', (dir) => new ClassicLevel<string, string>(join(dir, 'db'))],
  ['memory-level, utf8 store', () => new MemoryLevel<string, string>({ storeEncoding: 'utf8' })],
];

describe.each(backends)('hostile collection names and ids on %s', (_, makeDb) => {
  let cleanup: () => Promise<void>;
  let db: LevelDatabase;
  let canary: StorageAdapter;
  let run = 0;

  beforeAll(async () => {
    const t = await tempDir();
    cleanup = t.cleanup;
    db = makeDb(t.dir);
    canary = new LevelAdapter({ db, namespace: 'canary' });
    await commitOk(canary, put('a', 'a!b'), put('a', '\u00ff'), put('ab', '!'));
  });

  afterAll(async () => {
    await canary.close();
    await db.close();
    await cleanup();
  });

  it('round-trips every pair, with no collision and no leak between ranges (property)', async () => {
    await fc.assert(
      fc.asyncProperty(keysArb, async (keys) => {
        run += 1;
        const adapter = new LevelAdapter({ db, namespace: `run${run}` });
        try {
          for (let i = 0; i < keys.length; i += 7) {
            await commitOk(adapter, ...keys.slice(i, i + 7).map((k, j) => put(k.collection, k.id, { k: i + j })));
          }
          const stored = new Set(keys.map((k) => docKeyString(k.collection, k.id)));

          const records = await adapter.getMany(keys);
          records.forEach((r, i) => {
            expect(r).toMatchObject({ collection: keys[i]!.collection, id: keys[i]!.id, deleted: false, doc: { id: keys[i]!.id, k: i } });
          });

          const absent = keys.flatMap(neighbours).filter((n) => !stored.has(docKeyString(n.collection, n.id)));
          expect(await adapter.getMany(absent)).toEqual(absent.map(() => undefined));

          const collections = [...new Set(keys.map((k) => k.collection))].sort();
          expect(await adapter.listCollections()).toEqual(collections);
          for (const c of collections) {
            const ids = (await adapter.scanCollection(c)).map((r) => r.id).sort();
            expect(ids).toEqual(keys.filter((k) => k.collection === c).map((k) => k.id).sort());
          }
          const nearMiss = collections.map((c) => c + 'a').filter((c) => c.length <= 64 && !collections.includes(c));
          for (const c of nearMiss) expect(await adapter.scanCollection(c)).toEqual([]);

          const changes = await adapter.changes(0, { limit: 1000 });
          expect(changes.map((r) => r.syncId)).toEqual(keys.map((_, i) => i + 1));
          expect(changes.map((r) => docKeyString(r.collection, r.id))).toEqual(keys.map((k) => docKeyString(k.collection, k.id)));
          const first = collections[0]!;
          const only = await adapter.changes(0, { limit: 1000, collections: [first] });
          expect(only.map((r) => r.id)).toEqual(keys.filter((k) => k.collection === first).map((k) => k.id));
        } finally {
          await adapter.close();
        }
      }),
      fcParams,
    );
    // Nothing leaked into the canary namespace or the root key space.
    expect(await canary.listCollections()).toEqual(['a', 'ab']);
    expect((await canary.changes(0, { limit: 100 })).map((r) => r.id)).toEqual(['a!b', '\u00ff', '!']);
    const root = new LevelAdapter({ db });
    expect(await root.listCollections()).toEqual([]);
    expect(await root.sequence()).toEqual({ lastSyncId: 0, compactedThrough: 0 });
    await root.close();
  });

  it('keeps ids apart that differ only after a separator, NUL or \\xff', async () => {
    const adapter = new LevelAdapter({ db, namespace: 'hand-picked' });
    const keys = NASTY_COLLECTIONS.flatMap((collection) => NASTY_IDS.map((id) => ({ collection, id })));
    for (let i = 0; i < keys.length; i += 50) {
      await commitOk(adapter, ...keys.slice(i, i + 50).map((k, j) => put(k.collection, k.id, { k: i + j })));
    }
    const records = await adapter.getMany(keys);
    expect(records.map((r) => r?.doc['k'])).toEqual(keys.map((_, i) => i));
    for (const c of NASTY_COLLECTIONS) expect((await adapter.scanCollection(c)).length).toBe(NASTY_IDS.length);
    expect(await adapter.listCollections()).toEqual([...NASTY_COLLECTIONS].sort());
    expect((await adapter.sequence()).lastSyncId).toBe(keys.length);
    await adapter.close();
  });
});
