import { MemoryAdapter, Registry, TriangularStore, openStore } from '@cse/core';
import type { Store } from '@cse/core';
import { EdgeSync, FrontendSync, memoryPair } from '@cse/sync';
import type { FrontendSyncOptions, Transport } from '@cse/sync';

export const WORKER_TYPES = ['pump', 'valve'] as const;

export function registry(): Registry {
  const r = new Registry();
  for (const t of WORKER_TYPES) r.registerWorkerType(t);
  return r;
}

export interface Edge {
  store: Store;
  registry: Registry;
  triangular: TriangularStore;
  sync: EdgeSync;
}

export function edgeOn(store: Store, options: Partial<ConstructorParameters<typeof EdgeSync>[0]> = {}): Edge {
  const reg = registry();
  const triangular = new TriangularStore(store, reg);
  return { store, registry: reg, triangular, sync: new EdgeSync({ store, registry: reg, triangular, heartbeatMs: 1000, ...options }) };
}

export function memoryEdge(options: Partial<ConstructorParameters<typeof EdgeSync>[0]> = {}): Edge {
  return edgeOn(openStore(new MemoryAdapter()), options);
}

/** A connector to `edge` over an in-process pair; `wrap` may put faults on the Frontend's end. */
export function pairConnector(edge: () => EdgeSync | undefined, wrap: (t: Transport) => Transport = (t) => t): FrontendSyncOptions['connect'] {
  return async () => {
    const e = edge();
    if (e === undefined) throw new Error('edge down');
    const [a, b] = memoryPair();
    e.accept(b);
    return wrap(a);
  };
}

export function frontendOn(store: Store, connect: FrontendSyncOptions['connect'], options: Partial<FrontendSyncOptions> = {}): FrontendSync {
  return new FrontendSync({ store, registry: registry(), connect, heartbeatMs: 1000, resultTimeoutMs: 2000, backoff: { min: 5, max: 50 }, ...options });
}

/** Waits until `check` returns true (polling), or fails with `what` after `ms`. */
export async function until(check: () => boolean | Promise<boolean>, what: string | (() => string | Promise<string>), ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : await what()}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The Edge's state of `collections`: key -> { s, v, deleted, body } (tombstones included). */
export async function edgeState(store: Store, collections: readonly string[]): Promise<Map<string, unknown>> {
  const out = new Map<string, unknown>();
  for (let cursor = 0; ; ) {
    const page = await store.changesSince(cursor, { collections, limit: 1000 });
    for (const c of page.changes) out.set(`${c.collection}:${c.id}`, c.deleted ? { s: c.syncId, v: c.version, deleted: true } : { s: c.syncId, v: c.version, body: user(c.doc) });
    cursor = page.cursor;
    if (!page.hasMore) return out;
  }
}

/** The replica's state of `collections` in the same shape (live documents by their Edge ids; local tombstones as deleted). */
export async function replicaState(store: Store, collections: readonly string[], edge: Map<string, unknown>): Promise<Map<string, unknown>> {
  const out = new Map<string, unknown>();
  for (const c of collections) {
    for (const d of await store.find(c)) {
      // A refused write to a document the Edge never had: kept visible as a conflict (S4), not an Edge document.
      if (d._sync_status === 'conflict' && d._edge_version === 0) continue;
      out.set(`${c}:${d.id}`, { s: d._edge_sync_id, v: d._edge_version, body: user(d), status: d._sync_status });
    }
  }
  for (const [k, v] of edge) {
    const e = v as { deleted?: boolean; s: number; v: number };
    if (e.deleted !== true) continue;
    const r = out.get(k) as { s: number; v: number; status?: string } | undefined;
    // Tombstones: no live document where the Edge has one; or a conflict kept visible on top of
    // the Edge's tombstone (the refused write waits for the application, S4).
    if (r === undefined || (r.status === 'conflict' && r.s === e.s && r.v === e.v)) out.set(k, v);
  }
  return out;
}

export function user(doc: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(doc).filter(([k]) => !k.startsWith('_')));
}

/**
 * `t` with its incoming frames passed through `receive`, which delivers each (now, later or never)
 * to whoever listens on the returned transport.
 */
export function interpose(t: Transport, receive: (frame: string, deliver: (frame: string) => void) => void): Transport {
  const outer: Transport = {
    send: (f) => t.send(f),
    close: (r) => t.close(r),
    get buffered() {
      return t.buffered;
    },
    onmessage: undefined,
    onclose: undefined,
  };
  t.onmessage = (frame) => receive(frame, (f) => outer.onmessage?.(f));
  t.onclose = (r) => outer.onclose?.(r);
  return outer;
}
