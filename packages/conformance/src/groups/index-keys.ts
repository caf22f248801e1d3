/**
 * Index guarantees aimed at three ways an index goes wrong where the model of the `indexes`
 * group only stumbles on them by chance:
 *
 * - compaction touches tombstones only: after `compact(through)`, every indexed query still
 *   equals the scan, for live documents written before the watermark too;
 * - index keys cope with any value: strings and ids holding `:`, `;`, `!`, `\u0000`, `\u0001`,
 *   `\uffff`, and values that are prefixes of one another, under every range operator;
 * - index names are case-sensitive, as collections and fields are everywhere else: indexes on
 *   names that differ only in letter case are distinct, and `listIndexes` equals the oracle's.
 *
 * What `find` answers through an index is compared with core's query engine over a scan.
 */
import type { JsonObject, Query, Store } from '@cse/core';
import { compileQuery, runQuery } from '@cse/core';
import fc from 'fast-check';
import { equal, show } from '../assert.js';
import type { Group } from '../group.js';
import { needs } from '../group.js';
import { checkProperty } from '../property.js';

/** What `find` must answer: the live documents of a scan, through core's query engine. */
async function scanned(store: Store, collection: string, query: Query): Promise<JsonObject[]> {
  const records = await store.adapter.scanCollection(collection);
  return runQuery(
    records.filter((r) => !r.deleted).map((r) => r.doc),
    compileQuery(query),
  );
}

/** Every operator an index answers, against every probe value, on `field`: `find` equals the scan. */
async function everyRange(store: Store, collection: string, field: string, probes: readonly (string | number)[], where: string): Promise<void> {
  for (const v of probes) {
    for (const filter of [{ [field]: v }, ...['$gt', '$gte', '$lt', '$lte'].map((op) => ({ [field]: { [op]: v } })), { [field]: { $gt: v, $lte: probes[0] } }]) {
      const query = { filter } as Query;
      equal(await store.find(collection, query), await scanned(store, collection, query), `${where}: find(${collection}, ${show(query)}) through the index differs from the scan`);
    }
  }
}

/** Characters an index key encoding must keep apart; `a`/`b` make prefixes. */
const KEY_CHARS = [':', ';', '!', '\u0000', '\u0001', '\uffff', 'a', 'b'] as const;
/** Values that are prefixes of one another and hold every separator a naive encoding would use. */
const KEY_VALUES: readonly string[] = ['', 'a', 'a!', 'a:', 'a;', 'a\u0000', 'a\u0001', 'a\uffff', 'a:b', 'a;b', 'ab', ':', ';', '!', '\u0000', '\u0001', '\uffff', 'b'];
const keyStringArb = fc.array(fc.constantFrom(...KEY_CHARS), { maxLength: 3 }).map((cs) => cs.join(''));

async function keyValuesHold(store: Store, docs: readonly { id: string; v: string }[], probes: readonly string[], before: boolean, where: string): Promise<void> {
  if (before) await store.createIndex('keys', 'v');
  for (const d of docs) await store.upsert('keys', d);
  if (!before) await store.createIndex('keys', 'v');
  await everyRange(store, 'keys', 'v', probes, where);
}

export const indexKeysGroupDef: Group = {
  id: 'index-keys',
  title: 'Indexes: compaction, key encoding, names',
  requires: needs('indexes'),
  checks: [
    {
      name: 'compaction removes tombstones only: every indexed query equals the scan, for documents written before the watermark too',
      requires: needs('compaction'),
      run: (scope) =>
        scope.child(async (s) => {
          const name = s.storeName('ix-compact');
          const store = await s.store(name);
          await store.createIndex('ixc', 'v');
          const values = ['a', 'b', 'c', 1, 2, 3];
          for (let i = 0; i < 12; i++) await store.insert('ixc', { id: `d${i}`, v: values[i % values.length] as string | number });
          for (const id of ['d1', 'd4', 'd7']) await store.delete('ixc', id);
          await store.update('ixc', { id: 'd2', v: 'a' });
          const probes = values as (string | number)[];
          await everyRange(store, 'ixc', 'v', probes, 'before compaction');
          await store.compact(await store.lastSyncId());
          await everyRange(store, 'ixc', 'v', probes, 'after compact(lastSyncId), every live document older than the watermark');
          await store.insert('ixc', { id: 'late', v: 'b' });
          await store.delete('ixc', 'd0');
          await store.compact((await store.lastSyncId()) - 1);
          await everyRange(store, 'ixc', 'v', probes, 'after a second compaction');
          if (s.caps.persistent) {
            await s.closeOne(store);
            await everyRange(await s.store(name), 'ixc', 'v', probes, 'after compaction, close and reopen');
          }
        }),
    },
    {
      name: 'index keys cope with any value: separators, control characters and prefixes, under every range operator',
      run: async (scope) => {
        await scope.child(async (s) => {
          const docs = KEY_VALUES.map((v, i) => ({ id: `${KEY_VALUES[(i * 7) % KEY_VALUES.length] as string}#${i}`, v }));
          await keyValuesHold(await s.store(s.storeName('ix-keys')), docs, KEY_VALUES, true, 'fixed values, index first');
          await keyValuesHold(await s.store(s.storeName('ix-keys')), docs, KEY_VALUES, false, 'fixed values, index built over them');
        });
        await checkProperty(
          scope,
          'index keys: generated values and ids',
          fc.asyncProperty(
            fc.uniqueArray(fc.record({ id: keyStringArb.filter((x) => x !== ''), v: keyStringArb }), { minLength: 1, maxLength: 10, selector: (d) => d.id }),
            fc.array(keyStringArb, { maxLength: 3 }),
            fc.boolean(),
            (docs, extra, before) =>
              scope.child(async (s) => {
                await keyValuesHold(await s.store(s.storeName('ix-keygen')), docs, [...new Set([...docs.map((d) => d.v), ...extra])], before, `values ${show(docs)}`);
              }),
          ),
          { scale: 0.2 },
        );
      },
    },
    {
      name: 'index names are case-sensitive: Cat beside cat, Items beside items; listIndexes equals the oracle',
      run: (scope) =>
        scope.child(async (s) => {
          const store = await s.store(s.storeName('ix-case'));
          const oracle = s.oracle();
          const specs = [
            ['items', 'cat'],
            ['items', 'Cat'],
            ['Items', 'cat'],
            ['Items', 'CAT'],
          ] as const;
          for (const st of [store, oracle]) {
            for (const c of ['items', 'Items']) {
              for (let i = 0; i < 6; i++) await st.insert(c, { id: `d${i}`, cat: `c${i % 2}`, Cat: `c${i % 3}`, CAT: `c${(i + 1) % 2}` });
            }
          }
          const same = async (where: string): Promise<void> => {
            equal(await store.listIndexes(), await oracle.listIndexes(), `${where}: listIndexes differs from the MemoryAdapter oracle`);
            for (const c of ['items', 'Items']) {
              for (const f of ['cat', 'Cat', 'CAT']) {
                for (const v of ['c0', 'c1', 'c2']) {
                  const query: Query = { filter: { [f]: v } };
                  equal(await store.find(c, query), await scanned(store, c, query), `${where}: find(${c}, ${show(query)}) differs from the scan`);
                }
              }
            }
          };
          for (const [c, f] of specs) {
            await store.createIndex(c, f);
            await oracle.createIndex(c, f);
            await same(`after createIndex(${c}, ${f})`);
          }
          for (const [c, f] of [specs[1], specs[2]]) {
            await store.dropIndex(c, f);
            await oracle.dropIndex(c, f);
            await same(`after dropIndex(${c}, ${f})`);
          }
        }),
    },
  ],
};
