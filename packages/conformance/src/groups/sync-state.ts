/**
 * The CSE layer on the adapter: SyncState. Delta reads page through exactly the changes of the
 * registered collections; the tier state is persisted in the store and never moves backwards.
 */
import type { Change, Store, TierState } from '@cse/core';
import { OpType, Registry, SyncState, Tier, TxCache } from '@cse/core';
import fc from 'fast-check';
import { equal, ok } from '../assert.js';
import { applyWrite, checkPage } from '../fixtures.js';
import type { PlainWrite } from '../fixtures.js';
import type { Group } from '../group.js';
import { checkProperty } from '../property.js';

function registry(): Registry {
  const r = new Registry();
  r.registerWorkerType('pump');
  return r;
}

const REGISTERED = ['pump_desired', 'pump_identity', 'pump_observed'];
/** What each receiving tier gets: the Frontend every registered collection, the Edge only Desired ones. */
const RECEIVED: Record<Tier, string[]> = { [Tier.Frontend]: REGISTERED, [Tier.Edge]: ['pump_desired'] };

const writeArb: fc.Arbitrary<PlainWrite | 'tx'> = fc.oneof(
  fc.record({
    kind: fc.constantFrom('insert' as const, 'upsert' as const, 'update' as const),
    c: fc.constantFrom('pump_identity', 'pump_desired', 'pump_observed', 'other'),
    id: fc.constantFrom('p1', 'p2'),
    body: fc.record({ v: fc.integer({ min: 0, max: 3 }) }),
  }),
  fc.record({ kind: fc.constant('delete' as const), c: fc.constantFrom('pump_desired', 'other'), id: fc.constantFrom('p1', 'p2') }),
  fc.constant('tx' as const),
);

type TierOp = { readonly op: 'record' | 'synced'; readonly tier: Tier; readonly syncId: number; readonly peer?: string };
const tierOpArb: fc.Arbitrary<TierOp> = fc.oneof(
  fc.record({
    op: fc.constantFrom('record' as const, 'synced' as const),
    tier: fc.constantFrom(Tier.Edge, Tier.Frontend),
    syncId: fc.integer({ min: 0, max: 12 }),
  }),
  fc.record({ op: fc.constant('synced' as const), tier: fc.constantFrom(Tier.Edge, Tier.Frontend), syncId: fc.integer({ min: 0, max: 12 }), peer: fc.constantFrom('f1', 'f2') }),
);

function applyModel(state: TierState, op: TierOp): TierState {
  if (op.syncId <= state.syncedThrough) return state;
  if (op.op === 'synced') return { syncedThrough: op.syncId, pending: state.pending.filter((id) => id > op.syncId) };
  if (state.pending.includes(op.syncId)) return state;
  return { syncedThrough: state.syncedThrough, pending: [...state.pending, op.syncId].sort((a, b) => a - b) };
}

async function states(store: Store): Promise<Record<string, unknown>> {
  const sync = new SyncState(store, registry());
  const peers = async (tier: Tier): Promise<Record<string, number>> => Object.fromEntries((await sync.listPeers(tier)).map((p) => [p.peer, p.syncedThrough]));
  return { edge: await sync.getState(Tier.Edge), frontend: await sync.getState(Tier.Frontend), peers: { edge: await peers(Tier.Edge), frontend: await peers(Tier.Frontend) } };
}

export const syncStateGroupDef: Group = {
  id: 'sync-state',
  title: 'CSE: SyncState',
  checks: [
    {
      name: 'getDeltaSince pages through exactly the changes of the registered collections, ascending',
      run: (scope) =>
        checkProperty(
          scope,
          'sync state: delta paging',
          fc.asyncProperty(fc.array(writeArb, { maxLength: 25 }), fc.integer({ min: 1, max: 4 }), fc.constantFrom(Tier.Edge, Tier.Frontend), (writes, limit, tier) =>
            scope.child(async (s) => {
              const store = await s.store(s.storeName('delta'));
              const txs = new TxCache(store);
              for (const w of writes) {
                if (w !== 'tx') {
                  await applyWrite(store, w);
                  continue;
                }
                // System writes (the TxCache journal) must never appear in a delta.
                const tx = await txs.beginTx();
                await txs.recordOp(tx, OpType.Upsert, 'pump_observed', { id: 'p3', via: 'tx' });
                await txs.commit(tx);
              }
              const sync = new SyncState(store, registry());
              const got: Change[] = [];
              let cursor = 0;
              for (let i = 0; i < 1000; i++) {
                const delta = await sync.getDeltaSince(tier, cursor, { limit });
                checkPage(delta, cursor, limit, `getDeltaSince(${tier}, ${cursor}, { limit: ${limit} })`);
                got.push(...delta.changes);
                cursor = delta.cursor;
                if (!delta.hasMore) break;
              }
              const expected = (await store.changesSince(0, { collections: RECEIVED[tier], limit: 10_000 })).changes;
              equal(got, expected, `the delta pages equal every change of the collections ${tier} receives`);
              ok(
                got.every((c) => RECEIVED[tier].includes(c.collection)),
                'a delta holds only registered collections the tier receives (no system, unregistered or, for the Edge, non-Desired ones)',
              );
            }),
          ),
          { scale: 0.6 },
        ),
    },
    {
      name: 'tier and per-peer state is kept in the store, never moves backwards, and survives a new instance (and reopen, if persistent)',
      run: (scope) =>
        checkProperty(
          scope,
          'sync state: persistence',
          fc.asyncProperty(fc.array(tierOpArb, { maxLength: 20 }), (ops) =>
            scope.child(async (s) => {
              const name = s.storeName('tiers');
              const store = await s.store(name);
              const sync = new SyncState(store, registry());
              const model: Record<string, TierState> = { edge: { syncedThrough: 0, pending: [] }, frontend: { syncedThrough: 0, pending: [] } };
              // Each peer's acknowledgement is its own: it never moves the tier's, nor back.
              const peers: Record<string, Record<string, number>> = { edge: {}, frontend: {} };
              for (const op of ops) {
                const label = `${op.op}(${op.tier}, ${op.syncId}${op.peer === undefined ? '' : `, { peer: ${op.peer} }`})`;
                if (op.peer !== undefined) {
                  await sync.markSynced(op.tier, op.syncId, { peer: op.peer });
                  const mine = peers[op.tier] as Record<string, number>;
                  mine[op.peer] = Math.max(mine[op.peer] ?? 0, op.syncId);
                  const through = mine[op.peer] as number;
                  equal(await sync.getState(op.tier, { peer: op.peer }), { syncedThrough: through, pending: (model[op.tier] as TierState).pending.filter((n) => n > through) }, `after ${label}`);
                  continue;
                }
                if (op.op === 'record') await sync.recordChange(op.tier, op.syncId);
                else await sync.markSynced(op.tier, op.syncId);
                model[op.tier] = applyModel(model[op.tier] as TierState, op);
                equal(await sync.getState(op.tier), model[op.tier], `after ${label}`);
                equal(await sync.getPendingChanges(op.tier), model[op.tier]?.pending, `getPendingChanges(${op.tier})`);
              }
              const expected = { ...model, peers: { edge: peers.edge, frontend: peers.frontend } };
              equal(await states(store), expected, 'a new SyncState on the same store sees the same state');
              if (s.caps.persistent) {
                await s.closeOne(store);
                equal(await states(await s.store(name)), expected, 'after close and reopen the state is unchanged');
              }
            }),
          ),
          { scale: 0.5 },
        ),
    },
  ],
};
