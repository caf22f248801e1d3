/**
 * FrontendSync: keeps a replica of the Edge's documents in a local Store and sends the user's
 * Desired writes back.
 *
 * Local state, all in the replica's own store so it survives a reload or a crash:
 * - the documents, each with the Edge's `_edge_sync_id`/`_edge_version` and `_sync_status`;
 * - `_cse_replica/state`: the Edge epoch, this replica's client id and a cursor per collection;
 * - `_cse_outbox`: one entry per document with a pending write (latest value, the Edge version it
 *   is based on, a write id the Edge keeps a receipt of);
 * - `_cse_shadow`: the Edge's newest state of a document while a local write to it is pending.
 * A page and the cursors it moves are one local commit (S2); so is a local write and its outbox
 * entry (S3). Every change of local state runs in one queue, so pages, results and writes never
 * interleave.
 */
import type { JsonObject, Registry, Store, StoredRecord } from '@cse/core';
import { CseError, ErrorCode, Replica, ValidationError, isCseError } from '@cse/core';
import type { Grant } from './grants.js';
import { canRead, canWrite } from './grants.js';
import type { EdgeMessage, WireChange } from './protocol.js';
import { DEFAULT_MAX_FRAME, MAX_WORKER_ID, PROTOCOL_VERSION, ProtocolError, decodeEdge, encode } from './protocol.js';
import type { Connect, Transport } from './transport.js';

export const REPLICA_COLLECTION = '_cse_replica';
export const OUTBOX_COLLECTION = '_cse_outbox';
export const SHADOW_COLLECTION = '_cse_shadow';
const STATE_ID = 'state';

/** What the Frontend follows: worker types (all three collections of each) and/or collections. Default: every registered collection. */
export interface Subscription {
  readonly workerTypes?: readonly string[];
  readonly collections?: readonly string[];
}

export type SyncStatus = 'offline' | 'connecting' | 'syncing' | 'live' | 'stopped';

export interface FrontendSyncOptions {
  /** The local store that holds the replica (IndexedDB in a browser). */
  readonly store: Store;
  /** The same worker types and collections as the Edge's registry. */
  readonly registry: Registry;
  /** Opens a connection to the Edge (direct WebSocket, or the relay's encrypted channel). */
  readonly connect: Connect;
  readonly subscription?: Subscription;
  /** Ping interval; the connection is dropped after 3 silent intervals. Default 15 000 ms. */
  readonly heartbeatMs?: number;
  /** A write without a result for this long drops the connection (the reconnect sends it again). Default 15 000 ms. */
  readonly resultTimeoutMs?: number;
  /** Reconnect backoff, doubling from `min` to `max` ms with jitter. Default 200 to 5000. */
  readonly backoff?: { readonly min: number; readonly max: number };
  readonly maxFrame?: number;
  /** Clock for `_synced_at`. */
  readonly clock?: () => Date;
}

/** What `_conflict` holds on a document the Edge refused a write to. */
export interface ConflictInfo {
  /** The value the Edge refused. */
  readonly value: JsonObject;
  /** The Edge version it was based on. */
  readonly base: number;
  readonly code: 'CONFLICT' | 'FORBIDDEN' | 'VALIDATION';
  readonly message: string;
}

export interface SyncProgress {
  /** Changes applied since the connection opened. */
  readonly applied: number;
  /** The lowest cursor of the followed collections. */
  readonly cursor: number;
  /** The Edge's last sync id, as far as known. */
  readonly head: number;
}

interface OutboxEntry {
  readonly key: string;
  readonly seq: number;
  readonly w: string;
  readonly c: string;
  readonly id: string;
  readonly body: JsonObject;
  base: number;
}

interface Shadow {
  readonly s: number;
  readonly v: number;
  readonly d: boolean;
  readonly doc: JsonObject;
}

function docKey(collection: string, id: string): string {
  return `${collection}:${id}`;
}

/** The user's fields of a document from the Edge: every `_` key is metadata. */
function userPart(doc: JsonObject, extra?: Readonly<Record<string, unknown>>): JsonObject {
  const out: JsonObject = {};
  for (const k in doc) {
    // Metadata is dropped; so is any "_" key, "__proto__" included, so a plain assignment is safe.
    if (k.charCodeAt(0) === 95 /* _ */ || !Object.hasOwn(doc, k)) continue;
    out[k] = doc[k] as JsonObject[string];
  }
  if (extra !== undefined) for (const k in extra) out[k] = extra[k] as JsonObject[string];
  return out;
}

/** An outbox entry as stored (its document id apart from the record's own id, the key). */
function outboxBody(e: OutboxEntry): Record<string, unknown> {
  return { key: e.key, seq: e.seq, w: e.w, c: e.c, docId: e.id, body: e.body, base: e.base };
}

function randomId(): string {
  return globalThis.crypto.randomUUID();
}

export class FrontendSync {
  readonly store: Store;
  readonly registry: Registry;
  readonly #replica: Replica;
  readonly #connect: Connect;
  readonly #opts: Required<Omit<FrontendSyncOptions, 'store' | 'registry' | 'connect' | 'subscription'>>;
  #collections: string[];
  #epoch: string | null = null;
  #client = '';
  #cursors: Record<string, number> = {};
  readonly #outbox = new Map<string, OutboxEntry>();
  /** Per document key, the write id on the wire; per write id, its key and when it went. */
  readonly #inflight = new Map<string, string>();
  readonly #sentAt = new Map<string, { key: string; at: number }>();
  #seq = 0;
  #queue: Promise<unknown> = Promise.resolve();
  #transport: Transport | undefined;
  #welcomed = false;
  #status: SyncStatus = 'offline';
  #progress: SyncProgress = { applied: 0, cursor: 0, head: 0 };
  readonly #listeners = new Set<(status: SyncStatus, progress: SyncProgress) => void>();
  #running: Promise<void> | undefined;
  #stopped = false;
  #wakeRetry: (() => void) | undefined;
  #loaded: Promise<void> | undefined;
  #lastError: unknown;
  #grant: Grant | undefined;

  constructor(options: FrontendSyncOptions) {
    this.store = options.store;
    this.registry = options.registry;
    this.#replica = new Replica(options.store);
    this.#connect = options.connect;
    this.#opts = {
      heartbeatMs: options.heartbeatMs ?? 15_000,
      resultTimeoutMs: options.resultTimeoutMs ?? 15_000,
      backoff: options.backoff ?? { min: 200, max: 5000 },
      maxFrame: options.maxFrame ?? DEFAULT_MAX_FRAME,
      clock: options.clock ?? (() => new Date()),
    };
    this.#collections = this.#resolve(options.subscription);
  }

  // ---- public API ------------------------------------------------------------------------

  /** Connection state: `offline` (no link, retrying), `connecting`, `syncing` (catching up), `live`, `stopped`. */
  get status(): SyncStatus {
    return this.#status;
  }

  get progress(): SyncProgress {
    return this.#progress;
  }

  /** Why the last connection was dropped by this side (a `PROTOCOL` error from a broken Edge message), if it was. */
  get lastError(): unknown {
    return this.#lastError;
  }

  /** Writes not yet acknowledged by the Edge. */
  get pending(): number {
    return this.#outbox.size;
  }

  /**
   * What the Edge lets this Frontend read and write, as it last said (in `welcome` or when it
   * changed); undefined before the first welcome and from an Edge that does not limit it. The
   * Edge enforces it: this copy is for the application (hide what it may not do).
   */
  get grant(): Grant | undefined {
    return this.#grant;
  }

  /** False when the grant, as last heard, does not let this Frontend write the Desired of `workerType`. */
  mayWrite(workerType: string): boolean {
    const { desired } = this.registry.getTriangularCollections(workerType);
    return this.#grant === undefined || canWrite(this.#grant, { collection: desired, ...this.registry.getMetadata(desired) });
  }

  /** The followed collections. */
  get collections(): readonly string[] {
    return [...this.#collections];
  }

  /** The cursor of each followed collection (a copy). */
  get cursors(): Readonly<Record<string, number>> {
    return { ...this.#cursors };
  }

  /**
   * Resolves once the replica is live (caught up with the Edge) and every local write has its
   * result: `await frontend.settled()` before reading what the Edge has. Rejects on `signal` abort.
   */
  settled(signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (this.#status === 'live' && this.#outbox.size === 0) {
          off();
          signal?.removeEventListener('abort', abort);
          resolve();
        }
      };
      const abort = (): void => {
        off();
        reject(signal?.reason ?? new Error('aborted'));
      };
      const off = this.onStatus(check);
      signal?.addEventListener('abort', abort, { once: true });
      check();
    });
  }

  /** Calls `listener` on every status or progress change; returns the unsubscribe function. */
  onStatus(listener: (status: SyncStatus, progress: SyncProgress) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Loads the local state and starts connecting (and reconnecting) until `stop()`. */
  async start(): Promise<void> {
    if (this.#running) return;
    this.#stopped = false;
    await this.#load();
    this.#running = this.#run();
  }

  /** Closes the connection and stops reconnecting; local reads and writes keep working. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#transport?.close('stopped');
    this.#wakeRetry?.();
    await this.#running;
    this.#running = undefined;
    await this.#queue.catch(() => undefined);
    this.#setStatus('stopped');
  }

  /** Drops the current connection (it reconnects at once). For tests and "retry now" buttons. */
  reconnect(): void {
    this.#transport?.close('reconnect');
    this.#wakeRetry?.();
  }

  /**
   * Writes a Desired document locally at once (`_sync_status: 'pending'`), queues it durably and
   * sends it when connected, based on the Edge version the replica holds.
   *
   * @throws `VALIDATION` (bad document, unknown worker type), `FORBIDDEN` (not followed).
   */
  async saveDesired(workerType: string, workerId: string, doc: Readonly<Record<string, unknown>>): Promise<JsonObject> {
    const collection = this.#desiredOf(workerType);
    if (typeof workerId !== 'string' || workerId.length === 0 || workerId.length > MAX_WORKER_ID) {
      throw new ValidationError(`a worker id is a string of 1 to ${MAX_WORKER_ID} characters`);
    }
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new ValidationError('a desired document must be a plain object');
    for (const k of Object.keys(doc)) if (k.startsWith('_')) throw new ValidationError(`field ${JSON.stringify(k)}: fields starting with "_" are reserved`);
    if (doc.id !== undefined && doc.id !== workerId) throw new ValidationError('the document id differs from the worker id');
    await this.#load();
    return this.#serial(async () => {
      const key = docKey(collection, workerId);
      const [local] = await this.#replica.getMany([{ collection, id: workerId }]);
      const live = local && !local.deleted ? local.doc : undefined;
      const known = this.#outbox.get(key);
      const base = known ? known.base : typeof live?._edge_version === 'number' ? live._edge_version : 0;
      const body = userPart({ ...(doc as JsonObject), id: workerId });
      const entry: OutboxEntry = { key, seq: ++this.#seq, w: randomId(), c: collection, id: workerId, body, base };
      const [, saved] = await this.#replica.commit([
        { collection: OUTBOX_COLLECTION, id: key, kind: 'put', body: outboxBody(entry) },
        {
          collection,
          id: workerId,
          kind: 'put',
          body: { ...body, _edge_sync_id: (live?._edge_sync_id as number | undefined) ?? 0, _edge_version: (live?._edge_version as number | undefined) ?? 0, _sync_status: 'pending' },
        },
      ]);
      this.#outbox.set(key, entry);
      if (this.#welcomed && !this.#inflight.has(key)) this.#sendWrite(entry);
      return (saved as StoredRecord).doc;
    });
  }

  /**
   * Resolves a conflict: `'mine'` writes the refused value again, based on the Edge's current
   * version; `'theirs'` keeps the Edge's document and drops the refused value.
   *
   * @throws `NOT_FOUND` (no conflict on that document), `VALIDATION`.
   */
  async resolveConflict(workerType: string, workerId: string, choice: 'mine' | 'theirs'): Promise<JsonObject> {
    const collection = this.#desiredOf(workerType);
    if (choice !== 'mine' && choice !== 'theirs') throw new ValidationError('choice is "mine" or "theirs"');
    const doc = await this.store.get(collection, workerId);
    const conflict = doc?._conflict as ConflictInfo | undefined;
    if (doc === undefined || doc._sync_status !== 'conflict' || conflict === undefined) {
      throw new CseError(ErrorCode.NOT_FOUND, `${workerType}/${JSON.stringify(workerId)} has no conflict`);
    }
    if (choice === 'mine') return this.saveDesired(workerType, workerId, conflict.value);
    return this.#serial(async () => {
      const [r] = await this.#replica.commit([
        { collection, id: workerId, kind: 'put', body: { ...userPart(doc), _edge_sync_id: doc._edge_sync_id, _edge_version: doc._edge_version, _sync_status: 'synced', _synced_at: this.#now() } },
      ]);
      return (r as StoredRecord).doc;
    });
  }

  /**
   * Changes what is followed. Widening fetches the added collections from the beginning (the Edge
   * catches them up to the others without a gap); narrowing removes the documents left out, in
   * one local commit. Reconnects.
   *
   * @throws `VALIDATION` (unknown names, or narrowing away a collection with pending writes).
   */
  async setSubscription(subscription: Subscription): Promise<void> {
    const next = this.#resolve(subscription);
    await this.#load();
    await this.#serial(async () => {
      const removed = this.#collections.filter((c) => !next.includes(c));
      for (const e of this.#outbox.values()) {
        if (removed.includes(e.c)) throw new ValidationError(`${e.c} still has pending writes; wait until they are sent, or keep it in the subscription`);
      }
      const writes: { collection: string; id: string; kind: 'delete' }[] = [];
      for (const c of removed) {
        for (const r of await this.#replica.scan(c)) if (!r.deleted) writes.push({ collection: c, id: r.id, kind: 'delete' });
      }
      const cursors = Object.fromEntries(Object.entries(this.#cursors).filter(([c]) => next.includes(c)));
      await this.#replica.commit([...writes, this.#stateWrite(this.#epoch, cursors)]);
      this.#cursors = cursors;
      this.#collections = next;
    });
    this.reconnect();
  }

  // ---- local state -----------------------------------------------------------------------

  #resolve(sub: Subscription | undefined): string[] {
    const names = new Set<string>();
    if (sub === undefined || (sub.workerTypes === undefined && sub.collections === undefined)) {
      for (const c of this.registry.collectionNames()) names.add(c);
    }
    for (const t of sub?.workerTypes ?? []) {
      const c = this.registry.getTriangularCollections(t);
      names.add(c.identity);
      names.add(c.desired);
      names.add(c.observed);
    }
    for (const c of sub?.collections ?? []) {
      if (!this.registry.isRegistered(c)) throw new ValidationError(`collection ${c} is not registered`);
      names.add(c);
    }
    return [...names].sort();
  }

  #desiredOf(workerType: string): string {
    const { desired } = this.registry.getTriangularCollections(workerType);
    if (!this.#collections.includes(desired)) {
      throw new CseError(ErrorCode.FORBIDDEN, `${desired} is not in this Frontend's subscription`);
    }
    return desired;
  }

  #now(): string {
    return this.#opts.clock().toISOString();
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #load(): Promise<void> {
    this.#loaded ??= this.#serial(async () => {
      const [state] = await this.#replica.getMany([{ collection: REPLICA_COLLECTION, id: STATE_ID }]);
      const doc = state && !state.deleted ? state.doc : undefined;
      this.#epoch = typeof doc?.epoch === 'string' ? doc.epoch : null;
      this.#client = typeof doc?.client === 'string' ? doc.client : randomId();
      this.#cursors = { ...((doc?.cursors as Record<string, number> | undefined) ?? {}) };
      if (doc === undefined) await this.#replica.commit([this.#stateWrite(null, {})]);
      for (const r of await this.#replica.scan(OUTBOX_COLLECTION)) {
        if (r.deleted) continue;
        const e = r.doc as unknown as OutboxEntry & { docId: string };
        this.#outbox.set(e.key, { key: e.key, seq: e.seq, w: e.w, c: e.c, id: e.docId, body: e.body, base: e.base });
        this.#seq = Math.max(this.#seq, e.seq);
      }
      this.#updateProgress({});
    });
    return this.#loaded;
  }

  #stateWrite(epoch: string | null, cursors: Record<string, number>): { collection: string; id: string; kind: 'put'; body: Record<string, unknown> } {
    return { collection: REPLICA_COLLECTION, id: STATE_ID, kind: 'put', body: { epoch, client: this.#client, cursors } };
  }

  #setStatus(status: SyncStatus): void {
    if (this.#status === status) return;
    this.#status = status;
    this.#emit();
  }

  #updateProgress(p: Partial<SyncProgress>): void {
    const cursor = Math.min(...this.#collections.map((c) => this.#cursors[c] ?? 0));
    this.#progress = { ...this.#progress, ...p, cursor: Number.isFinite(cursor) ? cursor : 0 };
    this.#emit();
  }

  #emit(): void {
    for (const l of this.#listeners) {
      try {
        l(this.#status, this.#progress);
      } catch {
        // a UI listener's failure is not the sync's
      }
    }
  }

  // ---- connection ------------------------------------------------------------------------

  async #run(): Promise<void> {
    let delay = this.#opts.backoff.min;
    while (!this.#stopped) {
      this.#setStatus('connecting');
      let t: Transport | undefined;
      try {
        t = await this.#connect();
      } catch {
        t = undefined;
      }
      if (t !== undefined) {
        if (this.#stopped) {
          t.close('stopped');
          break;
        }
        const healthy = await this.#session(t);
        if (healthy) delay = this.#opts.backoff.min;
      }
      if (this.#stopped) break;
      this.#setStatus('offline');
      const wait = delay * (0.5 + Math.random() / 2);
      delay = Math.min(this.#opts.backoff.max, delay * 2);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        this.#wakeRetry = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wakeRetry = undefined;
    }
  }

  /** Runs one connection until it closes; true if it got as far as a welcome. */
  #session(t: Transport): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      this.#transport = t;
      this.#welcomed = false;
      this.#inflight.clear();
      this.#sentAt.clear();
      let welcomed = false;
      let lastHeard = Date.now();
      const beat = this.#opts.heartbeatMs;
      const opened = Date.now();
      const timer = setInterval(() => {
        const now = Date.now();
        if (now - lastHeard > 3 * beat) t.close('heartbeat timeout');
        else if (!welcomed && now - opened > this.#opts.resultTimeoutMs) t.close('no welcome in time');
        else t.send(encode({ t: 'ping' }));
        for (const { at } of this.#sentAt.values()) {
          if (now - at > this.#opts.resultTimeoutMs) {
            t.close('a write result timed out');
            break;
          }
        }
      }, Math.min(beat, this.#opts.resultTimeoutMs));
      // A broken Edge message: nothing of it was applied; drop the link, resume from the cursors.
      const fail = (e: unknown): void => {
        this.#lastError = e;
        t.close(isCseError(e) ? e.code : 'INTERNAL');
      };
      t.onmessage = (frame) => {
        lastHeard = Date.now();
        let m: EdgeMessage;
        try {
          m = decodeEdge(frame, this.#opts.maxFrame);
        } catch (e) {
          fail(e);
          return;
        }
        if (m.t === 'ping') {
          t.send(encode({ t: 'pong' }));
          return;
        }
        if (m.t === 'pong') return;
        if (m.t === 'error') {
          t.close(`edge error ${m.code}`);
          return;
        }
        if (m.t === 'grant') {
          this.#applyGrant(m.grant);
          return;
        }
        if (!welcomed && m.t !== 'welcome') {
          fail(new ProtocolError(`a ${m.t} before welcome`));
          return;
        }
        if (m.t === 'welcome') {
          if (welcomed) {
            fail(new ProtocolError('a second welcome'));
            return;
          }
          welcomed = true;
        }
        this.#serial(() => this.#handle(t, m)).catch((e: unknown) => fail(e));
      };
      t.onclose = () => {
        clearInterval(timer);
        if (this.#transport === t) {
          this.#transport = undefined;
          this.#welcomed = false;
        }
        resolve(welcomed);
      };
      t.send(
        encode({
          t: 'hello',
          v: PROTOCOL_VERSION,
          client: this.#client,
          epoch: this.#epoch,
          collections: this.#collections,
          cursors: Object.fromEntries(this.#collections.map((c) => [c, this.#cursors[c] ?? 0])),
        }),
      );
    });
  }

  async #handle(t: Transport, m: EdgeMessage): Promise<void> {
    if (this.#transport !== t) return; // a message of a connection that is gone
    switch (m.t) {
      case 'welcome': {
        if (m.v !== PROTOCOL_VERSION) throw new ProtocolError(`the Edge speaks protocol ${m.v}, this Frontend ${PROTOCOL_VERSION}`);
        if (m.reset || (this.#epoch !== null && this.#epoch !== m.epoch)) await this.#rebuild(m.epoch);
        else if (this.#epoch === null) {
          await this.#replica.commit([this.#stateWrite(m.epoch, this.#cursors)]);
          this.#epoch = m.epoch;
        }
        if (m.grant !== undefined) this.#applyGrant(m.grant);
        this.#welcomed = true;
        this.#updateProgress({ applied: 0, head: m.head });
        this.#setStatus(this.#collections.length === 0 ? 'live' : 'syncing');
        for (const e of [...this.#outbox.values()].sort((a, b) => a.seq - b.seq)) this.#sendWrite(e);
        return;
      }
      case 'page':
        await this.#applyPage(t, m);
        return;
      case 'result':
        await this.#applyResult(m);
        return;
      default:
        return;
    }
  }

  /**
   * A grant from the Edge. Collections it no longer lets this Frontend read leave the
   * subscription at once (the next hello leaves them out), and their documents, pending writes
   * and cursors leave the replica in one commit, as for a narrowed subscription: the Edge would
   * not send their changes, nor accept a write it cannot answer for a document the Frontend may
   * not see. Writes it still may read but no longer write come back refused from the Edge.
   */
  #applyGrant(grant: Grant): void {
    this.#grant = grant;
    const removed = new Set(this.#collections.filter((c) => !canRead(grant, { collection: c, ...this.registry.getMetadata(c) })));
    if (removed.size > 0) {
      this.#collections = this.#collections.filter((c) => !removed.has(c));
      this.#serial(async () => {
        const writes: { collection: string; id: string; kind: 'delete' }[] = [];
        for (const c of removed) for (const r of await this.#replica.scan(c)) if (!r.deleted) writes.push({ collection: c, id: r.id, kind: 'delete' });
        const dropped = [...this.#outbox.values()].filter((e) => removed.has(e.c));
        for (const e of dropped) writes.push({ collection: OUTBOX_COLLECTION, id: e.key, kind: 'delete' }, { collection: SHADOW_COLLECTION, id: e.key, kind: 'delete' });
        const cursors = Object.fromEntries(Object.entries(this.#cursors).filter(([c]) => !removed.has(c)));
        await this.#replica.commit([...writes, this.#stateWrite(this.#epoch, cursors)]);
        this.#cursors = cursors;
        for (const e of dropped) this.#outbox.delete(e.key);
        this.#updateProgress({});
      }).catch((e: unknown) => {
        this.#lastError = e;
      });
    }
    this.#emit();
  }

  #sendWrite(e: OutboxEntry): void {
    const t = this.#transport;
    if (t === undefined || !this.#welcomed) return;
    this.#inflight.set(e.key, e.w);
    this.#sentAt.set(e.w, { key: e.key, at: Date.now() });
    t.send(encode({ t: 'write', w: e.w, c: e.c, id: e.id, base: e.base, body: e.body }));
  }

  /** A new epoch or an unusable cursor: start again from 0, keeping the pending writes. */
  async #rebuild(epoch: string): Promise<void> {
    const writes: { collection: string; id: string; kind: 'delete' }[] = [];
    for (const c of this.#collections) {
      for (const r of await this.#replica.scan(c)) {
        if (!r.deleted && !this.#outbox.has(docKey(c, r.id))) writes.push({ collection: c, id: r.id, kind: 'delete' });
      }
    }
    for (const r of await this.#replica.scan(SHADOW_COLLECTION)) if (!r.deleted) writes.push({ collection: SHADOW_COLLECTION, id: r.id, kind: 'delete' });
    await this.#replica.commit([...writes, this.#stateWrite(epoch, {})]);
    this.#epoch = epoch;
    this.#cursors = {};
  }

  async #applyPage(t: Transport, p: Extract<EdgeMessage, { t: 'page' }>): Promise<void> {
    for (const c of p.cs) if (!this.#collections.includes(c)) throw new ProtocolError(`a page of ${c}, which is not followed`);
    const at = p.cs.map((c) => this.#cursors[c] ?? 0);
    if (at.every((n) => n >= p.to) && p.from < p.to) return; // a copy of a page already applied
    if (at.some((n) => n !== p.from)) throw new ProtocolError(`a page from ${p.from}, but the cursors are at ${at.join(', ')}`);
    const now = this.#now();
    // Only Desired documents can hold a conflict (only they are written here): read those alone.
    const roles = new Set(p.cs.filter((c) => this.registry.isRegistered(c) && this.registry.getMetadata(c).role === 'desired'));
    const desired = roles.size === 0 ? [] : p.changes.filter((ch) => roles.has(ch.c));
    const found = desired.length === 0 ? [] : await this.#replica.getMany(desired.map((ch) => ({ collection: ch.c, id: ch.id })));
    const locals = new Map(desired.map((ch, i) => [docKey(ch.c, ch.id), found[i]]));
    const writes: Parameters<Replica['commit']>[0][number][] = [];
    p.changes.forEach((ch) => {
      const key = docKey(ch.c, ch.id);
      if (this.#outbox.has(key)) {
        writes.push({ collection: SHADOW_COLLECTION, id: key, kind: 'put', body: { s: ch.s, v: ch.v, d: ch.d, doc: ch.doc } });
        return;
      }
      const local = locals.get(key);
      const conflict = local && !local.deleted && local.doc._sync_status === 'conflict' ? local.doc._conflict : undefined;
      writes.push(this.#edgeWrite(ch, now, conflict));
    });
    const cursors = { ...this.#cursors };
    for (const c of p.cs) cursors[c] = p.to;
    writes.push(this.#stateWrite(this.#epoch, cursors));
    await this.#replica.commit(writes);
    this.#cursors = cursors;
    t.send(encode({ t: 'ack', n: p.n }));
    this.#updateProgress({ applied: this.#progress.applied + p.changes.length, head: p.head });
    this.#setStatus(p.head <= p.to ? 'live' : 'syncing');
  }

  /** The replica write that mirrors an Edge state (keeping an unresolved conflict visible). */
  #edgeWrite(ch: Pick<WireChange, 'c' | 'id' | 's' | 'v' | 'd' | 'doc'>, now: string, conflict: unknown): Parameters<Replica['commit']>[0][number] {
    if (conflict !== undefined) {
      return {
        collection: ch.c,
        id: ch.id,
        kind: 'put',
        body: { ...(ch.d ? {} : userPart(ch.doc)), _edge_sync_id: ch.s, _edge_version: ch.v, _sync_status: 'conflict', _synced_at: now, _conflict: conflict },
      };
    }
    if (ch.d) return { collection: ch.c, id: ch.id, kind: 'delete' };
    return { collection: ch.c, id: ch.id, kind: 'put', body: userPart(ch.doc, { _edge_sync_id: ch.s, _edge_version: ch.v, _sync_status: 'synced', _synced_at: now }) };
  }

  async #applyResult(r: Extract<EdgeMessage, { t: 'result' }>): Promise<void> {
    const sent = this.#sentAt.get(r.w);
    if (sent === undefined || this.#inflight.get(sent.key) !== r.w) return; // a copy, or of an older connection
    this.#sentAt.delete(r.w);
    this.#inflight.delete(sent.key);
    const entry = this.#outbox.get(sent.key) as OutboxEntry;
    const now = this.#now();
    if (r.ok && entry.w !== r.w) {
      // Edited again while this write was on the wire: send the newer value on top of it.
      entry.base = r.version;
      await this.#replica.commit([{ collection: OUTBOX_COLLECTION, id: entry.key, kind: 'put', body: outboxBody(entry) }]);
      this.#sendWrite(entry);
      return;
    }
    const [shadowRecord] = await this.#replica.getMany([{ collection: SHADOW_COLLECTION, id: entry.key }]);
    const sd = shadowRecord && !shadowRecord.deleted ? shadowRecord.doc : undefined;
    const shadow: Shadow | undefined = sd && { s: sd.s as number, v: sd.v as number, d: sd.d as boolean, doc: sd.doc as JsonObject };
    const writes: Parameters<Replica['commit']>[0][number][] = [{ collection: OUTBOX_COLLECTION, id: entry.key, kind: 'delete' }];
    if (shadow) writes.push({ collection: SHADOW_COLLECTION, id: entry.key, kind: 'delete' });
    if (r.ok) {
      // A duplicate's result names the Edge's *current* document, which may be newer than this
      // write: the write itself made version base + 1. A newer Edge state is in the shadow
      // (seen already) or still to come in a page (its sync id is past the cursors).
      const mine = r.dup ? entry.base + 1 : r.version;
      if (shadow && shadow.v > mine) writes.push(this.#edgeWrite({ c: entry.c, id: entry.id, ...shadow }, now, undefined));
      else writes.push({ collection: entry.c, id: entry.id, kind: 'put', body: { ...entry.body, _edge_sync_id: r.sync, _edge_version: mine, _sync_status: 'synced', _synced_at: now } });
    } else {
      const current = r.current && typeof r.current._version === 'number' ? r.current : undefined;
      const theirs: Shadow | undefined =
        shadow && (current === undefined || shadow.v >= (current._version as number))
          ? shadow
          : current && { s: current._sync_id as number, v: current._version as number, d: current._deleted === true, doc: current };
      const conflict: ConflictInfo = { value: entry.body, base: entry.base, code: r.code, message: r.message };
      writes.push(this.#edgeWrite({ c: entry.c, id: entry.id, ...(theirs ?? { s: 0, v: 0, d: true, doc: {} }) }, now, conflict));
    }
    await this.#replica.commit(writes);
    this.#outbox.delete(entry.key);
    this.#emit();
  }
}
