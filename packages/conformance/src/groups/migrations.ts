/**
 * Schema migrations under SIGKILL (S12, issue 25): a store filled at schema version 1, a child
 * process migrating it to version 3 in small batches killed after a random number of them, the
 * store reopened: every document at exactly one version in that version's exact shape, whole
 * batches only, none lost, sync ids unique and ascending; the migration resumed to the end; a
 * follower of the change feed that had everything before the migration converges on the store.
 */
import type { Store } from '@cse/core';
import { TriangularStore, schemaVersionOf } from '@cse/core';
import fc from 'fast-check';
import { equal, ok, show } from '../assert.js';
import type { Scope } from '../context.js';
import type { Group } from '../group.js';
import { all, needs, needsChildren } from '../group.js';
import { checkProperty } from '../property.js';
import { withChildTimeout } from '../child/spawn.js';
import { MIG_ROLES, MIG_TYPE, migExpected, migRegistry, migV1 } from './migrations-schema.js';

/** Documents per collection, and per migration batch (so every page of a batch is full). */
const N = 60;
const BATCH = 5;

const collection = (role: string): string => `${MIG_TYPE}_${role}`;

/** Every document in the shape of exactly one version; returns how many are at version 3. */
async function checkShapes(store: Store, where: string): Promise<number> {
  let atThree = 0;
  for (const role of MIG_ROLES) {
    const docs = await store.find(collection(role), { sort: [{ field: 'id' }] });
    equal(docs.length, N, `${where}: ${collection(role)} holds ${docs.length} documents, not ${N} (none may be lost)`);
    for (const [i, d] of docs.entries()) {
      const v = schemaVersionOf(d);
      ok(v === 1 || v === 3, `${where}: ${d.id} is at version ${v}`);
      const user = Object.fromEntries(Object.entries(d).filter(([k]) => !k.startsWith('_') || k === '_schema'));
      equal(user, migExpected(role, i, v), `${where}: ${collection(role)}/${d.id} is not in the shape of version ${v}: ${show(user)}`);
      if (v === 3) atThree++;
    }
  }
  return atThree;
}

/** When the child is killed: after `killAfter` batches, then `delayMs` later (often inside the next batch's commit). */
interface KillPlan {
  readonly killAfter: number;
  readonly delayMs: number;
}

async function round(s: Scope, { killAfter, delayMs }: KillPlan): Promise<void> {
  const name = s.storeName('migrations');
  const filled = await s.store(name);
  for (const role of MIG_ROLES) await filled.insertMany(collection(role), Array.from({ length: N }, (_, i) => migV1(role, i)));
  const before = await filled.lastSyncId();
  // A follower that has everything up to now (the state a Frontend had before the migration).
  const follower = new Map<string, unknown>();
  for (const role of MIG_ROLES) for (const d of await filled.find(collection(role))) follower.set(`${collection(role)}/${d.id}`, d);
  await s.closeOne(filled);

  const { spawnChild } = await import('../child/spawn.js');
  const child = await spawnChild({ mode: 'migrate', module: s.run.options.module as string, storeName: name, dir: await s.run.dir(), tag: 'mig', batchSize: BATCH });
  try {
    await withChildTimeout(
      child.until((ms) => ms.filter((m) => m.t === 'batch').length >= killAfter || ms.some((m) => m.t === 'done'), `${killAfter} batches`),
      `the migrating child to commit ${killAfter} batches`,
    );
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
  } finally {
    child.kill();
  }
  await child.exited;
  const acked = Math.max(0, ...child.messages.map((m) => (m.t === 'batch' ? m.migrated : 0)));

  const store = await s.store(name);
  const where = `after a kill ${delayMs} ms after batch ${killAfter}`;
  const atThree = await checkShapes(store, where);
  ok(atThree >= acked, `${where}: ${acked} documents were reported migrated but only ${atThree} are at version 3 (durability)`);
  equal(atThree % BATCH, 0, `${where}: ${atThree} documents at version 3 is not a whole number of batches of ${BATCH} (a torn batch)`);

  // Resume: the rest is migrated, nothing twice.
  const resumed = await new TriangularStore(store, migRegistry(3)).migrate(undefined, { batchSize: BATCH });
  equal(resumed.migrated, 3 * N - atThree, `${where}: the resumed migration rewrote ${resumed.migrated} documents`);
  equal(await checkShapes(store, `${where}, resumed`), 3 * N, `${where}: after resuming, every document is at version 3`);

  // The follower reads the change feed from where it was: ascending, unique ids; it converges.
  const ids: number[] = [];
  for (let cursor = before; ; ) {
    const page = await store.changesSince(cursor, { limit: 50 });
    for (const c of page.changes) {
      ids.push(c.syncId);
      follower.set(`${c.collection}/${c.id}`, c.deleted ? undefined : c.doc);
    }
    if (!page.hasMore) break;
    cursor = page.cursor;
  }
  ok(
    ids.every((v, i) => i === 0 || v > (ids[i - 1] as number)),
    `${where}: the change feed after the migration is not ascending: ${show(ids.slice(0, 40))}`,
  );
  equal(ids.length, 3 * N, `${where}: the follower read ${ids.length} changes, not one per migrated document`);
  for (const role of MIG_ROLES) {
    for (const d of await store.find(collection(role))) equal(follower.get(`${collection(role)}/${d.id}`), d, `${where}: the follower's ${collection(role)}/${d.id}`);
  }
  await s.closeOne(store);
}

export const migrationsGroupDef: Group = {
  id: 'migrations',
  title: 'Schema migrations under SIGKILL',
  requires: all(needs('persistent'), needs('crashSafe'), needsChildren),
  checks: [
    {
      name: 'a migration from version 1 to 3 killed at a random batch leaves every document at exactly one version, none lost, and resumes; a follower converges',
      timeout: 240_000,
      run: (scope) =>
        checkProperty(
          scope,
          'migrations: SIGKILL during a migration',
          fc.asyncProperty(fc.record({ killAfter: fc.integer({ min: 0, max: (3 * N) / BATCH + 2 }), delayMs: fc.integer({ min: 0, max: 12 }) }), (plan) =>
            scope.child((s) => round(s, plan)),
          ),
          // A kill's timing does not replay exactly: no shrinking.
          { scale: 0.2, runTimeoutMs: 120_000, budgetMs: 200_000, params: { endOnFailure: true } },
        ),
    },
  ],
};
