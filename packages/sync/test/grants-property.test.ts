/**
 * Grants property (S9): random grants, subscriptions and writes from several Frontends against
 * one Edge, with grants changed during the sessions. Checked on the decrypted stream each
 * Frontend receives (not only its replica): no page carries a change its grant at that point did
 * not let it read, every grant it is told is one the Edge was given, and no write outside the
 * write grant is applied. When the steps end, every replica converges to the Edge's state of what
 * its final grant lets it read. fast-check prints the seed and path of a failure; replay with
 * CSE_GRANTS_SEED / CSE_GRANTS_PATH (runs: CSE_GRANTS_RUNS).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryAdapter, openStore } from '@cse/core';
import type { Store } from '@cse/core';
import { SecureFrontend, canRead, canWrite, normalizeGrant, sameGrant } from '@cse/sync';
import type { FrontendSync, Grant, Transport } from '@cse/sync';
import { edgeState, frontendOn, until, user } from './helpers.js';
import type { SecureEdgeFixture } from './secure-helpers.js';
import { secureDial, secureMemoryEdge } from './secure-helpers.js';

type WT = 'pump' | 'valve';
const TYPES: readonly WT[] = ['pump', 'valve'];
const ROLES = ['identity', 'desired', 'observed'] as const;
const FRONTENDS = 3;

const types = fc.oneof(fc.constant('*' as const), fc.subarray([...TYPES]));
const grantArb: fc.Arbitrary<Grant> = fc
  .record({ read: types, roles: fc.subarray([...ROLES]), write: types })
  .map((g) => normalizeGrant({ read: { workerTypes: g.read, roles: g.roles }, write: { workerTypes: g.write }, admin: false }));

type Step =
  | { k: 'edge'; part: 'identity' | 'observed' | 'desired'; type: WT; w: number }
  | { k: 'write'; fe: number; type: WT; w: number }
  | { k: 'grant'; fe: number; grant: Grant }
  | { k: 'sub'; fe: number; types: WT[] }
  | { k: 'wait' };

const fe = fc.integer({ min: 0, max: FRONTENDS - 1 });
const wt = fc.constantFrom(...TYPES);
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ k: fc.constant('edge' as const), part: fc.constantFrom('identity' as const, 'observed' as const, 'desired' as const), type: wt, w: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 5, arbitrary: fc.record({ k: fc.constant('write' as const), fe, type: wt, w: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('grant' as const), fe, grant: grantArb }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('sub' as const), fe, types: fc.subarray([...TYPES], { minLength: 1 }) }) },
  { weight: 2, arbitrary: fc.constant({ k: 'wait' as const }) },
);

const meta = (c: string): { collection: string; workerType: string; role: string } => {
  const i = c.lastIndexOf('_');
  return { collection: c, workerType: c.slice(0, i), role: c.slice(i + 1) };
};

interface Client {
  store: Store;
  secure: SecureFrontend;
  sync: FrontendSync;
  /** Every grant the Edge was given for this Frontend, in order. */
  given: Grant[];
  violations: string[];
}

/** Wraps a decrypted transport to check every frame the Frontend receives. */
function tap(t: Transport, c: Client): Transport {
  let grant: Grant | undefined;
  const check = (f: string): void => {
    const m = JSON.parse(f) as { t: string; grant?: Grant; changes?: { c: string }[]; collections?: Record<string, unknown>; ok?: boolean; w?: string };
    if (m.grant !== undefined) {
      if (!c.given.some((g) => sameGrant(g, m.grant as Grant))) c.violations.push(`told a grant the Edge was never given: ${JSON.stringify(m.grant)}`);
      grant = m.grant;
    }
    if (m.t === 'welcome') for (const col of Object.keys(m.collections ?? {})) if (grant === undefined || !canRead(grant, meta(col))) c.violations.push(`welcome names ${col} outside the grant`);
    for (const ch of m.changes ?? []) if (grant === undefined || !canRead(grant, meta(ch.c))) c.violations.push(`a change of ${ch.c} outside the read grant`);
  };
  const out = {
    send: (f: string) => t.send(f),
    close: (r?: string) => t.close(r),
  } as Transport;
  Object.defineProperty(out, 'onmessage', {
    set(h: ((f: string) => void) | undefined) {
      t.onmessage = (f) => {
        check(f);
        h?.(f);
      };
    },
  });
  Object.defineProperty(out, 'onclose', {
    set(h: ((r?: string) => void) | undefined) {
      t.onclose = h;
    },
  });
  return out;
}

async function scenario(initial: Grant[], steps: Step[]): Promise<void> {
  const edge: SecureEdgeFixture = await secureMemoryEdge();
  const clients: Client[] = [];
  for (let i = 0; i < FRONTENDS; i++) {
    const store = openStore(new MemoryAdapter());
    const secure = await SecureFrontend.open({ store });
    const grant = initial[i] as Grant;
    const { code } = await edge.secure.createPairingCode({ grant });
    await secure.pair(code, secureDial(() => edge));
    const c = { store, secure, given: [grant], violations: [] } as unknown as Client;
    const connect = secure.connector(secureDial(() => edge));
    c.sync = frontendOn(store, async () => tap(await connect(), c));
    clients.push(c);
  }
  let n = 0;
  try {
    await Promise.all(clients.map((c) => c.sync.start()));
    for (const s of steps) {
      if (s.k === 'edge') {
        if (s.part === 'identity') await edge.triangular.saveIdentity(s.type, `w${s.w}`, { model: s.type });
        else if (s.part === 'observed') await edge.triangular.saveObserved(s.type, `w${s.w}`, { n: ++n });
        else await edge.triangular.saveDesired(s.type, `w${s.w}`, { n: ++n, by: 'edge' });
      } else if (s.k === 'write') {
        await (clients[s.fe] as Client).sync.saveDesired(s.type, `w${s.w}`, { n: ++n, by: `fe${s.fe}` }).catch(() => undefined); // not subscribed: FORBIDDEN locally
      } else if (s.k === 'grant') {
        const c = clients[s.fe] as Client;
        c.given.push(s.grant);
        await edge.secure.grant(c.secure.frontendId, s.grant);
      } else if (s.k === 'sub') {
        await (clients[s.fe] as Client).sync.setSubscription({ workerTypes: s.types }).catch(() => undefined); // pending writes in a removed collection
      } else {
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    const final = clients.map((c) => c.given[c.given.length - 1] as Grant);
    const all = TYPES.flatMap((t) => ROLES.map((r) => `${t}_${r}`));
    for (const [i, c] of clients.entries()) {
      const grant = final[i] as Grant;
      const want = async (): Promise<string> => {
        if (!c.sync.collections.every((col) => canRead(grant, meta(col)))) return `fe${i} follows ${c.sync.collections.join(',')} outside its final grant`;
        if (c.sync.status !== 'live' || c.sync.pending > 0) return `fe${i} is ${c.sync.status} with ${c.sync.pending} pending`;
        const state = await edgeState(edge.store, c.sync.collections);
        for (const col of all) {
          const docs = await c.store.find(col);
          if (!c.sync.collections.includes(col)) {
            if (docs.length > 0) return `fe${i} still holds ${col}`;
            continue;
          }
          for (const d of docs) {
            const e = state.get(`${col}:${d.id}`) as { s: number; v: number; deleted?: boolean; body?: unknown } | undefined;
            if (e === undefined || e.deleted === true) {
              if (d._sync_status === 'conflict' && d._edge_version === 0) continue; // a refused write of a document the Edge never had
              return `fe${i} has ${col}/${d.id} that the Edge has not`;
            }
            if (d._edge_sync_id !== e.s || JSON.stringify(user(d)) !== JSON.stringify(e.body)) return `fe${i} has ${col}/${d.id} at ${String(d._edge_sync_id)}, the Edge at ${e.s}`;
          }
          for (const [k, e] of state) {
            const [col2, id] = k.split(':') as [string, string];
            if (col2 === col && (e as { deleted?: boolean }).deleted !== true && !docs.some((d) => d.id === id)) return `fe${i} misses ${k}`;
          }
        }
        return '';
      };
      await until(async () => (await want()) === '', async () => `convergence: ${await want()}`);
    }
    for (const c of clients) expect(c.violations).toEqual([]);
    // No write outside a write grant was applied: every Desired document a Frontend wrote lies in
    // a collection one of its grants let it write.
    for (const t of TYPES) {
      for (const d of await edge.store.find(`${t}_desired`)) {
        const by = typeof d.by === 'string' && d.by.startsWith('fe') ? Number(d.by.slice(2)) : undefined;
        if (by === undefined) continue;
        const c = clients[by] as Client;
        expect(c.given.some((g) => canWrite(g, meta(`${t}_desired`), 0)), `fe${by} wrote ${t}_desired/${d.id} without a grant to`).toBe(true);
      }
    }
  } finally {
    await Promise.all(clients.map((c) => c.sync.stop()));
    await edge.sync.close();
  }
}

const replay = process.env.CSE_GRANTS_SEED === undefined ? {} : { seed: Number(process.env.CSE_GRANTS_SEED), ...(process.env.CSE_GRANTS_PATH ? { path: process.env.CSE_GRANTS_PATH } : {}) };

describe('grants (property)', () => {
  it('no Frontend receives a document outside its read grant, no write outside its write grant is applied, grant changes converge', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(grantArb, { minLength: FRONTENDS, maxLength: FRONTENDS }), fc.array(step, { minLength: 5, maxLength: 30 }), async (initial, steps) => scenario(initial, steps)),
      { numRuns: Number(process.env.CSE_GRANTS_RUNS ?? 20), endOnFailure: true, ...replay },
    );
  }, 300_000);
});
