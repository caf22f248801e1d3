/**
 * Guarantee 9: two stores (two store names on one backend) never see each other's documents or
 * counters; and inside one store, two distinct (collection, id) pairs never share a record,
 * whatever separators they contain.
 */
import fc from 'fast-check';
import { equal, ok, show } from '../assert.js';
import { applyWrite, drain, dump, plainWriteArb } from '../fixtures.js';
import type { Group } from '../group.js';
import { checkProperty } from '../property.js';

/** Separators a backend might splice names with. */
const SEPARATORS = ['-', '_', ':', '/', '\u0000', '!', '.', '|', '#', '\u00ff', ''];

/**
 * Pairs whose naive concatenation collides: (`a`, `b${sep}c`) and (`a${sep}b`, `c`) when
 * `a${sep}b` is a valid collection name; otherwise two ids of one collection that a
 * prefix-based scan could confuse.
 */
function collidingPairs(sep: string): [string, string][] {
  const pairs: [string, string][] = [
    ['a', `b${sep}c`],
    ['a', 'b'],
    ['ab', 'c'],
    ['a', `${sep}b`],
    ['a', `b${sep}`],
  ];
  const joined = `a${sep}b`;
  if (/^[A-Za-z][A-Za-z0-9_-]{0,63}$/.test(joined)) pairs.push([joined, 'c'], [joined, `c${sep}d`]);
  return pairs;
}

export const isolationGroupDef: Group = {
  id: 'isolation',
  title: '9. Isolation',
  checks: [
    {
      name: 'two stores never see each other’s documents, changes or counters',
      run: (scope) =>
        checkProperty(
          scope,
          'isolation: two store names',
          fc.asyncProperty(fc.array(fc.tuple(fc.boolean(), plainWriteArb), { maxLength: 30 }), (writes) =>
            scope.child(async (s) => {
              const one = await s.store(s.storeName('iso-one'));
              const two = await s.store(s.storeName('iso-two'));
              const oracleOne = s.oracle();
              const oracleTwo = s.oracle();
              for (const [first, w] of writes) {
                await applyWrite(first ? one : two, w);
                await applyWrite(first ? oracleOne : oracleTwo, w);
              }
              equal(await dump(one), await dump(oracleOne), 'store one holds exactly its own writes (documents, changes, counter)');
              equal(await dump(two), await dump(oracleTwo), 'store two holds exactly its own writes (documents, changes, counter)');
              equal(await one.listCollections(), await oracleOne.listCollections(), 'store one lists only its own collections');
              equal(await two.listCollections(), await oracleTwo.listCollections(), 'store two lists only its own collections');
            }),
          ),
          { scale: 0.6 },
        ),
    },
    {
      name: 'a new store starts empty at sync id 0 while another store on the backend has data',
      run: (scope) =>
        scope.child(async (s) => {
          const busy = await s.store(s.storeName('iso-busy'));
          for (let i = 0; i < 5; i++) await busy.insert('a', { id: `d${i}` });
          const fresh = await s.store(s.storeName('iso-fresh'));
          equal(await fresh.lastSyncId(), 0, 'a new store’s lastSyncId is 0');
          equal(await fresh.listCollections(), [], 'a new store has no collections');
          equal((await fresh.insert('a', { id: 'd0' }))._sync_id, 1, 'the first write of a new store gets _sync_id 1');
          equal((await fresh.insert('a', { id: 'own' }))._version, 1, 'and its own versions');
          equal(await busy.lastSyncId(), 5, 'the other store’s counter did not move');
        }),
    },
    {
      name: 'distinct (collection, id) pairs never collide, whatever separator a backend uses',
      run: (scope) =>
        scope.child(async (s) => {
          const store = await s.store(s.storeName('keys'));
          const written: [string, string][] = [];
          const seen = new Set<string>();
          for (const sep of SEPARATORS) {
            for (const [c, id] of collidingPairs(sep)) {
              const key = `${c}\u0001${id}`;
              if (seen.has(key)) continue;
              seen.add(key);
              await store.insert(c, { id, c, echo: id });
              written.push([c, id]);
            }
          }
          for (const [c, id] of written) {
            const doc = await store.get(c, id);
            equal(doc && { c: doc.c, echo: doc.echo }, { c, echo: id }, `get(${show(c)}, ${show(id)}) returns its own document`);
          }
          const byCollection = new Map<string, string[]>();
          for (const [c, id] of written) byCollection.set(c, [...(byCollection.get(c) ?? []), id]);
          for (const [c, ids] of byCollection) {
            const found = (await store.find(c)).map((d) => d.id).sort();
            equal(found, [...ids].sort(), `find(${show(c)}) returns exactly its own documents`);
          }
          const changes = await drain(store, 0);
          equal(changes.length, written.length, 'changesSince returns one change per written pair');
          ok(new Set(changes.map((c) => c.syncId)).size === changes.length, 'every pair has its own sync id');
          equal((await store.listCollections()).sort(), [...byCollection.keys()].sort(), 'listCollections names exactly the written collections');
        }),
    },
  ],
};
