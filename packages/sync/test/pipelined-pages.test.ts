import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { BackendError, MemoryAdapter, openStore } from '@cse/core';
import type { CommitRequest, CommitResult, StorageAdapter } from '@cse/core';
import type { FrontendSync } from '@cse/sync';
import { REPLICA_COLLECTION } from '@cse/sync';
import { edgeState, frontendOn, memoryEdge, pairConnector, until } from './helpers.js';
import type { Edge } from './helpers.js';

// Pipelined pages (replica-state.ts, apply-page.ts): the next page's commit is issued while the
// previous one commits, and a page whose predecessor failed never commits after it (S1, S2).

/**
 * A MemoryAdapter whose page commits (those expecting the replica state at a version) run in the
 * order they are called, page 1 and page `failPage` held until the next page commit is called
 * (only pipelining gets there), and page `failPage` failing as a storage failure, landing nothing.
 */
class Gated implements StorageAdapter {
  /** Page commits called while another page commit was still pending. */
  overlaps = 0;
  failPage: number | undefined;
  /** What each page commit (by number) came to: the inner result, or 'failed'. */
  readonly results = new Map<number, CommitResult | 'failed'>();
  #pages = 0;
  #pending = 0;
  #held: (() => void) | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  constructor(readonly inner: MemoryAdapter) {}
  get capabilities() {
    return this.inner.capabilities;
  }
  commit = async (r: CommitRequest): Promise<CommitResult> => {
    if (!r.writes.some((w) => w.collection === REPLICA_COLLECTION && w.expect?.kind === 'version')) return this.inner.commit(r);
    const n = ++this.#pages;
    if (this.#pending > 0) this.overlaps++;
    this.#pending++;
    this.#held?.();
    this.#held = undefined;
    const hold = n === 1 || n === this.failPage ? new Promise<void>((resolve) => (this.#held = resolve)) : undefined;
    const run = this.#chain.then(async () => {
      await hold;
      if (n === this.failPage) {
        this.failPage = undefined;
        this.results.set(n, 'failed');
        throw new BackendError('injected: the page commit failed');
      }
      const result = await this.inner.commit(r);
      this.results.set(n, result);
      return result;
    });
    this.#chain = run.catch(() => undefined);
    try {
      return await run;
    } finally {
      this.#pending--;
    }
  };
  getMany: StorageAdapter['getMany'] = (k) => this.inner.getMany(k);
  scanCollection: StorageAdapter['scanCollection'] = (c) => this.inner.scanCollection(c);
  changes: StorageAdapter['changes'] = (a, o) => this.inner.changes(a, o);
  listCollections: StorageAdapter['listCollections'] = () => this.inner.listCollections();
  sequence: StorageAdapter['sequence'] = () => this.inner.sequence();
  subscribe(l: () => void): () => void {
    return this.inner.subscribe(l);
  }
  close = (): Promise<void> => this.inner.close();
}

const running: { fe: FrontendSync; edge: Edge }[] = [];
afterEach(async () => {
  for (const { fe, edge } of running.splice(0)) {
    await fe.stop();
    await edge.sync.close();
  }
});

async function seeded(docs: number): Promise<Edge> {
  const edge = memoryEdge({ pageSize: 10 });
  for (let i = 0; i < docs; i++) await edge.triangular.saveObserved('pump', `p${i}`, { n: i });
  return edge;
}

/** The sync id of the last change of `collection` on the Edge (its own bookkeeping takes ids too). */
async function lastChange(edge: Edge, collection: string): Promise<number> {
  const page = await edge.store.changesSince(0, { collections: [collection], limit: 10_000 });
  return page.changes.at(-1)?.syncId ?? 0;
}

async function replicaMatches(fe: FrontendSync, edge: Edge, collection: string): Promise<boolean> {
  const want = await edgeState(edge.store, [collection]);
  const got = await edgeState(fe.store, [collection]);
  return want.size === got.size;
}

describe('pipelined pages', () => {
  it('issue the next page while the previous one commits, and converge', async () => {
    const edge = await seeded(60);
    const gated = new Gated(new MemoryAdapter());
    const fe = frontendOn(openStore(gated), pairConnector(() => edge.sync), { subscription: { workerTypes: ['pump'] } });
    running.push({ fe, edge });
    await fe.start();
    await fe.settled();
    expect(gated.overlaps).toBeGreaterThan(0);
    const collection = edge.registry.getTriangularCollections('pump').observed;
    expect(await replicaMatches(fe, edge, collection)).toBe(true);
    expect(fe.cursors[collection]).toBeGreaterThanOrEqual(await lastChange(edge, collection));
  });

  it('never commit a page after its predecessor failed: the cursors stay with the documents, and the replica converges', async () => {
    const edge = await seeded(60);
    const gated = new Gated(new MemoryAdapter());
    // Page commit 3 is held until page 4's is issued behind it, then fails.
    gated.failPage = 3;
    const fe = frontendOn(openStore(gated), pairConnector(() => edge.sync), { subscription: { workerTypes: ['pump'] } });
    running.push({ fe, edge });
    await fe.start();
    const collection = edge.registry.getTriangularCollections('pump').observed;
    await until(async () => fe.status === 'live' && (await replicaMatches(fe, edge, collection)), 'the replica to converge after the failed page');
    // Page 4 was issued behind the failed page 3: its commit was refused (the state it expected never came).
    expect(gated.results.get(3)).toBe('failed');
    const fourth = gated.results.get(4);
    expect(fourth !== 'failed' && fourth?.ok).toBe(false);
    // Every document up to the cursor is there.
    const cursor = fe.cursors[collection] ?? 0;
    expect(cursor).toBeGreaterThanOrEqual(await lastChange(edge, collection));
    expect(fe.lastError).toBeDefined();
  });

  it('hold no page once it is committed (the pipeline kept every page ever committed, one inside the next)', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const edge = await seeded(200);
    // Every record a page commit returns, watched without keeping it alive.
    const committed: WeakRef<object>[] = [];
    const inner = new MemoryAdapter();
    const watching = new Gated(inner);
    const commit = watching.commit;
    watching.commit = async (r) => {
      const result = structuredClone(await commit(r));
      if (result.ok) for (const rec of result.records) committed.push(new WeakRef(rec));
      return result;
    };
    const fe = frontendOn(openStore(watching), pairConnector(() => edge.sync), { subscription: { workerTypes: ['pump'] } });
    running.push({ fe, edge });
    await fe.start();
    await fe.settled();
    const collection = edge.registry.getTriangularCollections('pump').observed;
    expect(await replicaMatches(fe, edge, collection)).toBe(true);
    expect(committed.length).toBeGreaterThanOrEqual(200);
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 0)); // WeakRefs clear only after the job that made them
    }
    const alive = committed.filter((w) => w.deref() !== undefined).length;
    // The last page's records may still be in use; the other 19 pages' must be gone.
    expect(alive).toBeLessThanOrEqual(20);
  });
});
