/**
 * S12, property-based: random sequences of Edge upgrades (1 → 2 → 3, served lazily, sometimes
 * migrated eagerly), Frontend upgrades and downgrades (a reload with another release on the same
 * replica), writes from Frontends of every version in their own shape, Edge writes, and faults
 * (disconnects, duplicated and dropped frames, Edge restarts, Frontend restarts). Step 1 → 2
 * renames a Desired field and is lossless; step 2 → 3 nests it (lossless) and changes an Observed
 * unit (lossy: an Edge at 3 cannot serve older Frontends, which get UPDATE_REQUIRED for pump
 * while valve keeps syncing). At the end every Frontend the Edge cannot serve is reloaded at the
 * Edge's release. After quiescence: each replica equals the Edge's documents as seen in its
 * version; every write was applied exactly once, or refused with a typed error, or superseded or
 * a conflict (S4); no Edge document is lost, each in exactly one version.
 *
 * The seed is printed; replay with CSE_SCHEMA_SEED (and CSE_SCHEMA_PATH); runs: CSE_SCHEMA_RUNS
 * (default 12; `CSE_SCHEMA_RUNS=400` for a long run: it found an Edge of an older release sending documents a
 * newer release had stored, see docs/schema-versions.md); CSE_SCHEMA_TRACE=1 prints each step and frame.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryAdapter, Registry, TriangularStore, canServe, convertDoc, openStore, schemaVersionOf } from '@cse/core';
import type { JsonObject, MigrationStep, Store } from '@cse/core';
import type { FrontendSync, Transport, WriteOutcome } from '@cse/sync';
import { EdgeSync } from '@cse/sync';
import { recordEdgeWrites, seededRandom } from './fixtures/faults.js';
import { over } from './fixtures/result-gate.js';
import { frontendOn, pairConnector, until, user } from './helpers.js';

const STEPS: readonly MigrationStep[] = [
  {
    up: { desired: ({ speed_rpm, ...rest }) => ({ ...rest, rpm: speed_rpm ?? 0 }) },
    down: { desired: ({ rpm, ...rest }) => ({ ...rest, speed_rpm: rpm ?? 0 }) },
  },
  {
    up: {
      desired: ({ rpm, ...rest }) => ({ ...rest, target: { rpm: rpm ?? 0 } }),
      observed: ({ temp_f, ...rest }) => ({ ...rest, temp_c: Math.round(((Number(temp_f ?? 32) - 32) * 5) / 9) }),
    },
    down: { desired: ({ target, ...rest }) => ({ ...rest, rpm: (target as { rpm?: number } | undefined)?.rpm ?? 0 }) },
  },
];

function registryAt(version: number): Registry {
  const r = new Registry();
  r.registerWorkerType('pump', { version, migrations: STEPS.slice(0, version - 1) });
  r.registerWorkerType('valve');
  return r;
}

/** A pump Desired value in the shape of `version`. */
function desiredIn(version: number, rpm: number, nonce: string): Record<string, unknown> {
  if (version === 1) return { speed_rpm: rpm, nonce };
  if (version === 2) return { rpm, nonce };
  return { target: { rpm }, nonce };
}

const FRONTENDS = 2;
const COLLECTIONS = ['pump_desired', 'pump_identity', 'pump_observed', 'valve_desired', 'valve_identity', 'valve_observed'];

type Step =
  | { k: 'edgeWrite'; part: 'desired' | 'observed' | 'identity'; type: 'pump' | 'valve'; w: number }
  | { k: 'feWrite'; f: number; type: 'pump' | 'valve'; w: number }
  | { k: 'edgeUpgrade'; migrate: boolean }
  | { k: 'feRelease'; f: number; version: number }
  | { k: 'disconnect'; f: number }
  | { k: 'edgeRestart' }
  | { k: 'faults'; on: boolean }
  | { k: 'wait'; ms: number };

const typeArb = fc.constantFrom('pump' as const, 'valve' as const);
const feArb = fc.integer({ min: 0, max: FRONTENDS - 1 });
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ k: fc.constant('edgeWrite' as const), part: fc.constantFrom('desired' as const, 'observed' as const, 'identity' as const), type: typeArb, w: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 6, arbitrary: fc.record({ k: fc.constant('feWrite' as const), f: feArb, type: typeArb, w: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('edgeUpgrade' as const), migrate: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('feRelease' as const), f: feArb, version: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('disconnect' as const), f: feArb }) },
  { weight: 1, arbitrary: fc.constant({ k: 'edgeRestart' as const }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('faults' as const), on: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 10 }) }) },
);

/** Duplicates and drops frames both ways while `faults.on` (a dropped frame is a lost link: it closes). */
function faulty(t: Transport, rng: () => number, faults: { on: boolean }): Transport {
  const tr = (d: string, f: string): void => void (process.env.CSE_SCHEMA_TRACE && process.stderr.write(`${d} ${f.slice(0, 160)}\n`));
  const wrapped = over(t, (frame) => {
    tr('>', frame);
    if (!faults.on) return t.send(frame);
    const r = rng();
    if (r < 0.03) return t.close('fault: disconnect');
    t.send(frame);
    if (r > 0.95) t.send(frame);
    return undefined;
  });
  t.onmessage = (frame) => {
    tr('<', frame);
    const r = faults.on ? rng() : 0.5;
    if (r < 0.02) return void t.close('fault: frame lost');
    wrapped.onmessage?.(frame);
    if (r > 0.96) wrapped.onmessage?.(frame);
  };
  // A close that comes before the session has set its handler (the Edge closed this end while
  // the connect was resolving) is delivered when it sets it, as a WebSocket reports it later.
  let closedWith: string | undefined;
  let handler: ((reason: string) => void) | undefined;
  Object.defineProperty(wrapped, 'onclose', {
    get: () => handler,
    set: (h: ((reason: string) => void) | undefined) => {
      handler = h;
      if (h !== undefined && closedWith !== undefined) queueMicrotask(() => h(closedWith as string));
    },
  });
  t.onclose = (reason) => {
    tr('x', reason);
    closedWith = reason;
    handler?.(reason);
  };
  return wrapped;
}

interface Client {
  version: number;
  store: Store;
  fe: FrontendSync;
}

async function scenario(seed: number, initial: number[], steps: Step[]): Promise<void> {
  if (process.env.CSE_SCHEMA_TRACE) process.stderr.write(`run ${seed} ${JSON.stringify(initial)}\n`);
  const rng = seededRandom(seed);
  const edgeStore = openStore(new MemoryAdapter());
  let edgeVersion = 1;
  let tri = new TriangularStore(edgeStore, registryAt(1));
  let rec = recordEdgeWrites(tri);
  const applied = new Map<string, number>();
  const faults = { on: false };
  const newEdge = (): EdgeSync => new EdgeSync({ store: edgeStore, registry: registryAt(edgeVersion), triangular: tri, pageSize: 3, window: 2, heartbeatMs: 50, helloTimeoutMs: 300, ackTimeoutMs: 300 });
  let edge = newEdge();
  const outcomes = new Map<string, WriteOutcome>();
  const writes = new Map<string, { id: string; f: number; key: string; nonce: string }>();
  const edgeIds = new Set<string>();
  const open = (store: Store, version: number): FrontendSync => {
    const fe = frontendOn(store, pairConnector(() => edge, (t) => faulty(t, rng, faults)), { registry: registryAt(version), heartbeatMs: 50, resultTimeoutMs: 300 });
    fe.onOutcome((o) => outcomes.set(o.writeId, o));
    return fe;
  };
  const clients: Client[] = initial.map((version) => {
    const store = openStore(new MemoryAdapter());
    return { version, store, fe: open(store, version) };
  });
  const upgradeEdge = async (version: number, migrate: boolean): Promise<void> => {
    const old = edge;
    for (const [k, v] of rec.applied) applied.set(k, (applied.get(k) ?? 0) + v);
    edgeVersion = version;
    tri = new TriangularStore(edgeStore, registryAt(edgeVersion));
    rec = recordEdgeWrites(tri);
    if (migrate) await tri.migrate(undefined, { batchSize: 2 });
    edge = newEdge();
    await old.close();
  };
  const served = (c: Client): boolean => c.version <= edgeVersion && canServe(registryAt(edgeVersion).getWorkerSchema('pump'), edgeVersion, c.version);
  const pumpPending = (c: Client): number => [...writes.values()].filter((w) => w.f === clients.indexOf(c) && w.key.startsWith('pump_') && !outcomes.has(w.id)).length;
  const reload = async (c: Client, version: number): Promise<void> => {
    await c.fe.stop();
    c.version = version;
    c.fe = open(c.store, version);
    await c.fe.start();
  };
  const explain = (): string => `seed ${seed}, edge at ${edgeVersion}, frontends at ${clients.map((c) => `${c.version} (${c.fe.status}, pending ${c.fe.pending}, update required ${c.fe.updateRequired.join(',')})`).join('; ')}`;
  try {
    for (const c of clients) await c.fe.start();
    let n = 0;
    for (const st of steps) {
      if (process.env.CSE_SCHEMA_TRACE) process.stderr.write(`${JSON.stringify(st)}\n`);
      switch (st.k) {
        case 'edgeWrite': {
          const id = `${st.type}${st.w}`;
          edgeIds.add(`${st.type}_${st.part}:${id}`);
          const v = st.type === 'pump' ? edgeVersion : 1;
          if (st.part === 'identity') await tri.saveIdentity(st.type, id, { kind: st.type });
          else if (st.part === 'observed') await tri.saveObserved(st.type, id, st.type === 'pump' && v === 3 ? { temp_c: n++ } : { temp_f: n++ });
          else await tri.saveDesired(st.type, id, st.type === 'pump' ? desiredIn(v, n++, `edge${n}`) : { open: n++ % 2 === 0 });
          break;
        }
        case 'feWrite': {
          const c = clients[st.f] as Client;
          const id = `${st.type}${st.w}`;
          const nonce = `fe${st.f}-${n++}`;
          const value = st.type === 'pump' ? desiredIn(c.version, n, nonce) : { open: n % 2 === 0, nonce };
          const saved = await c.fe.saveDesired(st.type, id, value);
          writes.set(saved.writeId, { id: saved.writeId, f: st.f, key: `${st.type}_desired:${id}`, nonce });
          break;
        }
        case 'edgeUpgrade':
          if (edgeVersion < 3) await upgradeEdge(edgeVersion + 1, st.migrate);
          break;
        case 'feRelease': {
          const c = clients[st.f] as Client;
          // A downgrade stays within what the older release can express: its pump writes answered
          // first (an older release has no `down` of the newer steps); a Frontend whose pump
          // writes wait on UPDATE_REQUIRED is not downgraded.
          if (st.version < c.version) {
            await until(() => pumpPending(c) === 0 || c.fe.updateRequired.length > 0 || (c.fe.status === 'live' && !served(c)), () => `pump writes to be answered (${explain()})`);
            if (pumpPending(c) > 0) break;
          }
          await reload(c, st.version);
          break;
        }
        case 'disconnect':
          (clients[st.f] as Client).fe.reconnect();
          break;
        case 'edgeRestart': {
          const old = edge;
          edge = newEdge();
          await old.close();
          break;
        }
        case 'faults':
          faults.on = st.on;
          break;
        case 'wait':
          await new Promise((r) => setTimeout(r, st.ms));
          break;
      }
    }
    if (process.env.CSE_SCHEMA_TRACE) process.stderr.write(`quiescence\n`);
    // Quiescence: no faults; a Frontend the Edge cannot serve is reloaded at the Edge's release.
    faults.on = false;
    // The Edge is upgraded to the newest release a Frontend runs; a Frontend it cannot serve is
    // reloaded at the Edge's release. (A release with every type at version 1 does not announce
    // versions: the Edge leaves the type out without saying UPDATE_REQUIRED, as for a peer from
    // before versions.)
    const newest = Math.max(...clients.map((c) => c.version));
    if (newest > edgeVersion) await upgradeEdge(newest, false);
    for (const c of clients) if (!served(c)) await reload(c, edgeVersion);
    for (const c of clients) {
      await until(async () => c.fe.status === 'live' && c.fe.pending === 0 && c.fe.updateRequired.length === 0 && (await differences(c, edgeStore, edgeVersion)).length === 0, async () => `convergence of a Frontend at ${c.version}: ${(await differences(c, edgeStore, edgeVersion)).slice(0, 4).join('; ')} (${explain()})`);
    }
    for (const [k, v] of rec.applied) applied.set(k, (applied.get(k) ?? 0) + v);

    // Every write: applied exactly once, or refused typed, or superseded, or a conflict.
    for (const [writeId, w] of writes) {
      const o = outcomes.get(writeId);
      expect(o, `write ${w.nonce} to ${w.key} has no outcome (${explain()})`).toBeDefined();
      const times = applied.get(w.nonce) ?? 0;
      if (o?.kind === 'applied') expect(o.duplicate || times === 1, `write ${w.nonce} applied ${times} times`).toBe(true);
      else expect(times, `write ${w.nonce} (${o?.kind}) changed the Edge`).toBe(0);
      if (o?.kind === 'refused') expect(['UPDATE_REQUIRED', 'VALIDATION', 'FORBIDDEN']).toContain(o.code);
    }
    for (const [nonce, times] of applied) expect(times, `write ${nonce}`).toBe(1);
    // Nothing stored is lost; each document is in exactly one version, readable at the current one.
    const edgeReg = registryAt(edgeVersion);
    for (const key of edgeIds) {
      const [c, id] = key.split(':') as [string, string];
      const doc = await edgeStore.get(c, id);
      expect(doc, `${key} lost`).toBeDefined();
      expect(schemaVersionOf(doc as JsonObject)).toBeLessThanOrEqual(edgeReg.getSchemaVersion(edgeReg.getMetadata(c).workerType));
    }
  } catch (e) {
    if (process.env.CSE_SCHEMA_TRACE) process.stderr.write(`failed: ${String(e)}\n`);
    throw e;
  } finally {
    if (process.env.CSE_SCHEMA_TRACE) process.stderr.write(`stopping\n`);
    for (const c of clients) await c.fe.stop();
    if (process.env.CSE_SCHEMA_TRACE) process.stderr.write(`stopped\n`);
    await edge.close();
  }
}

/** Where the replica differs from the Edge's documents converted to the Frontend's version. */
/** JSON with the keys of every object sorted: equal documents compare equal whatever order their fields were written in. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_, x: unknown) => (x !== null && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : x));
}

async function differences(c: Client, edgeStore: Store, edgeVersion: number): Promise<string[]> {
  const reg = registryAt(edgeVersion);
  const out: string[] = [];
  for (const coll of COLLECTIONS) {
    const { workerType, role } = reg.getMetadata(coll);
    const edgeDocs = new Map((await edgeStore.find(coll)).map((d) => [d.id, d]));
    const local = new Map((await c.store.find(coll)).map((d) => [d.id, d]));
    for (const [id, d] of edgeDocs) {
      const l = local.get(id);
      const to = workerType === 'pump' ? c.version : 1;
      const seen = convertDoc(workerType, reg.getWorkerSchema(workerType), role as 'identity' | 'desired' | 'observed', user(d) as JsonObject, schemaVersionOf(d), to);
      const want = canonical(user(seen));
      if (l === undefined || canonical(user(l)) !== want || l._edge_version !== d._version) out.push(`${coll}/${id}: edge ${want} v${d._version}, replica ${l && JSON.stringify(user(l))} v${l?._edge_version}`);
    }
    for (const [id, l] of local) if (!edgeDocs.has(id) && !(l._sync_status === 'conflict' && l._edge_version === 0)) out.push(`${coll}/${id}: only in the replica`);
  }
  return out;
}

const seed = Number(process.env.CSE_SCHEMA_SEED ?? Math.floor(Math.random() * 2 ** 31));
const path = process.env.CSE_SCHEMA_PATH;

describe('schema versions (property, S12)', () => {
  it('mixed releases with upgrades, downgrades and faults: replicas equal the Edge as seen in their version; every write applied once or refused typed; nothing lost', async () => {
    console.log(`schema property: seed ${seed} (replay: CSE_SCHEMA_SEED=${seed})`);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.array(fc.integer({ min: 1, max: 3 }), { minLength: FRONTENDS, maxLength: FRONTENDS }),
        fc.array(stepArb, { minLength: 5, maxLength: 40 }),
        (faultSeed, initial, steps) => scenario(faultSeed, initial, steps),
      ),
      { seed, ...(path === undefined ? {} : { path }), numRuns: Number(process.env.CSE_SCHEMA_RUNS ?? 12), endOnFailure: true },
    );
  }, 300_000);
});
