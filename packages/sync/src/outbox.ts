/**
 * The durable outbox: one entry per document with a pending Desired write (latest value, the
 * Edge version and sync id it is based on, a write id the Edge keeps a receipt of), stored in
 * `_cse_outbox` in the same local commit as the document itself (S3), and the bookkeeping of
 * which write id is on the wire for which document.
 *
 * A write that may have reached the Edge (sent, or loaded after a reload) and is edited again
 * stays in the entry as `prev` and goes first: the newer value is re-based on the version it
 * produced, so the user's own write never looks like someone else's (and a lost answer never
 * hides an Edge write in between). A write replaced before it was ever sent is `superseded`.
 */
import type { JsonObject, ReplicaWrite, StoredRecord } from '@cse/core';
import type { WriteOutcome } from './outcomes.js';
import type { WireWrite } from './protocol.js';
import type { ReplicaState } from './replica-state.js';
import { OUTBOX_COLLECTION, SHADOW_COLLECTION, docKey, randomId, userPart } from './replica-state.js';

/** One write as it goes on the wire. */
export interface OutboxWrite {
  readonly w: string;
  readonly body: JsonObject;
  /** The Edge version it is based on. */
  base: number;
  /** The Edge sync id of that version, when known. */
  bs?: number | undefined;
}

/** One `saveDesired` call. */
export interface SaveRequest {
  readonly collection: string;
  readonly workerId: string;
  readonly doc: Readonly<Record<string, unknown>>;
  readonly baseVersion: number | undefined;
}

/** What a saved request gives its caller. */
export interface Written {
  readonly entry: OutboxEntry;
  /** The document as stored locally. */
  readonly doc: JsonObject;
  /** Outcomes it settles (a write it supersedes). */
  readonly settled: WriteOutcome[];
}

interface Plan {
  readonly entry: OutboxEntry;
  /** The document first, then its outbox entry (and the shadow). */
  readonly writes: ReplicaWrite[];
  readonly settled: WriteOutcome[];
}

export interface OutboxEntry extends OutboxWrite {
  readonly key: string;
  readonly seq: number;
  readonly c: string;
  readonly id: string;
  /** A write of this document that may be on the Edge already; it is sent (again) first. */
  prev?: OutboxWrite | undefined;
  /** The base was given by the caller and is not the replica's: never re-based. */
  readonly pinned: boolean;
}

/** An outbox entry as stored (its document id apart from the record's own id, the key). */
function outboxBody(e: OutboxEntry): Record<string, unknown> {
  return {
    key: e.key,
    seq: e.seq,
    w: e.w,
    c: e.c,
    docId: e.id,
    body: e.body,
    base: e.base,
    ...(e.bs === undefined ? {} : { bs: e.bs }),
    ...(e.prev === undefined ? {} : { prev: { ...e.prev } }),
    ...(e.pinned ? { pinned: true } : {}),
  };
}

export class Outbox {
  readonly #state: ReplicaState;
  readonly #entries = new Map<string, OutboxEntry>();
  /** Per document key, the write id on the wire; per write id, its key and when it went. */
  readonly #inflight = new Map<string, string>();
  readonly #sentAt = new Map<string, { key: string; at: number }>();
  /** Write ids that may have reached the Edge: sent by this instance, or loaded from the store. */
  readonly #maybeSent = new Set<string>();
  #seq = 0;

  constructor(state: ReplicaState) {
    this.#state = state;
  }

  get size(): number {
    return this.#entries.size;
  }

  has(key: string): boolean {
    return this.#entries.has(key);
  }

  /** The pending entries (any order). */
  entries(): IterableIterator<OutboxEntry> {
    return this.#entries.values();
  }

  /** The pending entries in the order they were written. */
  inOrder(): OutboxEntry[] {
    return [...this.#entries.values()].sort((a, b) => a.seq - b.seq);
  }

  /** Reads the stored entries (after a reload). */
  async load(): Promise<void> {
    for (const r of await this.#state.replica.scan(OUTBOX_COLLECTION)) {
      if (r.deleted) continue;
      const e = r.doc as unknown as OutboxEntry & { docId: string };
      const prev = e.prev === undefined ? undefined : { ...e.prev };
      this.#entries.set(e.key, { key: e.key, seq: e.seq, w: e.w, c: e.c, id: e.docId, body: e.body, base: e.base, bs: e.bs, prev, pinned: e.pinned === true });
      this.#maybeSent.add(e.w);
      if (prev) this.#maybeSent.add(prev.w);
      this.#seq = Math.max(this.#seq, e.seq);
    }
  }

  /**
   * Writes Desired documents locally (`_sync_status: 'pending'`) with their outbox entries, all
   * in one local commit (one fsync), each based on the Edge version the replica holds (or its
   * caller's `baseVersion`). The requests name different documents. Runs inside the state's
   * queue. Each request gets its own answer: its entry, stored document and the outcomes it
   * settles (a write it supersedes), or its own error (a batch that fails is committed again one
   * request at a time, so one bad document fails only its caller).
   */
  async writeMany(requests: readonly SaveRequest[]): Promise<Array<Written | { error: unknown }>> {
    try {
      return await this.#commitPlans(await this.#plan(requests));
    } catch (e) {
      if (requests.length === 1) return [{ error: e }];
    }
    const out: Array<Written | { error: unknown }> = [];
    for (const r of requests) out.push(...(await this.writeMany([r])));
    return out;
  }

  async #plan(requests: readonly SaveRequest[]): Promise<Plan[]> {
    const locals = await this.#state.replica.getMany(requests.map((r) => ({ collection: r.collection, id: r.workerId })));
    return requests.map((r, i) => this.#planOne(r, locals[i]));
  }

  #planOne({ collection, workerId, doc, baseVersion }: SaveRequest, local: StoredRecord | undefined): Plan {
    const key = docKey(collection, workerId);
    const live = local && !local.deleted ? local.doc : undefined;
    const edgeVersion = typeof live?._edge_version === 'number' ? live._edge_version : 0;
    const edgeSync = typeof live?._edge_sync_id === 'number' ? live._edge_sync_id : 0;
    // A base other than what the replica shows is a stale (or foreign) read: sent as it is, so
    // the Edge answers with a conflict unless it really is at that version.
    const pinned = baseVersion !== undefined && baseVersion !== edgeVersion;
    const known = this.#entries.get(key);
    const body = userPart({ ...(doc as JsonObject), id: workerId });
    const settled: WriteOutcome[] = [];
    const w = randomId();
    let prev: OutboxWrite | undefined;
    let base: number;
    let bs: number | undefined;
    if (known === undefined) {
      base = edgeVersion;
      bs = edgeVersion > 0 ? edgeSync : undefined;
    } else {
      base = known.base;
      bs = known.bs;
      if (known.prev !== undefined) prev = known.prev;
      if (known.prev === undefined && this.#maybeSent.has(known.w)) prev = { w: known.w, body: known.body, base: known.base, bs: known.bs };
      else settled.push({ kind: 'superseded', writeId: known.w, collection, id: workerId, value: known.body, by: w });
    }
    if (pinned) {
      base = baseVersion;
      bs = undefined;
    }
    const entry: OutboxEntry = { key, seq: ++this.#seq, w, c: collection, id: workerId, body, base, bs, prev, pinned };
    const writes: ReplicaWrite[] = [
      {
        collection,
        id: workerId,
        kind: 'put',
        body: { ...body, _edge_sync_id: edgeSync, _edge_version: edgeVersion, _sync_status: 'pending' },
      },
      this.put(entry),
    ];
    // The Edge's state as the replica knew it, kept while the write is pending: a refusal shows
    // it again (the document itself now holds the user's value).
    if (known === undefined && live !== undefined && edgeVersion > 0) {
      writes.push({ collection: SHADOW_COLLECTION, id: key, kind: 'put', body: { s: edgeSync, v: edgeVersion, d: false, doc: userPart(live) } });
    }
    return { entry, writes, settled };
  }

  async #commitPlans(plans: readonly Plan[]): Promise<Written[]> {
    const saved = await this.#state.replica.commit(plans.flatMap((p) => p.writes));
    let at = 0;
    return plans.map((p) => {
      const doc = (saved[at] as StoredRecord).doc;
      at += p.writes.length;
      this.#entries.set(p.entry.key, p.entry);
      return { entry: p.entry, doc, settled: p.settled };
    });
  }

  /** The replica write that stores `entry`. */
  put(entry: OutboxEntry): ReplicaWrite {
    return { collection: OUTBOX_COLLECTION, id: entry.key, kind: 'put', body: outboxBody(entry) };
  }

  /** The replica write that removes the entry of `key`; call `forget` once it is committed. */
  remove(key: string): ReplicaWrite {
    return { collection: OUTBOX_COLLECTION, id: key, kind: 'delete' };
  }

  /** Puts a changed entry (same key) in place of the loaded one, once its `put` is committed. */
  replace(entry: OutboxEntry): void {
    this.#entries.set(entry.key, entry);
  }

  forget(key: string): void {
    this.#entries.delete(key);
  }

  isInflight(key: string): boolean {
    return this.#inflight.has(key);
  }

  /** A new connection: nothing is on the wire. */
  clearWire(): void {
    this.#inflight.clear();
    this.#sentAt.clear();
  }

  /** The entry's first write (`prev` if it has one) as it goes on the wire; from now on it is on the wire. */
  wire(e: OutboxEntry): WireWrite {
    const write = e.prev ?? e;
    this.#inflight.set(e.key, write.w);
    this.#sentAt.set(write.w, { key: e.key, at: Date.now() });
    this.#maybeSent.add(write.w);
    const bs = write.bs === undefined ? {} : { bs: write.bs };
    return { w: write.w, c: e.c, id: e.id, base: write.base, ...bs, body: write.body };
  }

  /** True if a write sent has waited for its result longer than `ms`. */
  overdue(now: number, ms: number): boolean {
    for (const { at } of this.#sentAt.values()) if (now - at > ms) return true;
    return false;
  }

  /**
   * The entry a result of write `w` belongs to, no longer on the wire; undefined for a copy of
   * a result, or one of an older connection.
   */
  takeResult(w: string): OutboxEntry | undefined {
    const sent = this.#sentAt.get(w);
    if (sent === undefined || this.#inflight.get(sent.key) !== w) return undefined;
    this.#sentAt.delete(w);
    this.#inflight.delete(sent.key);
    return this.#entries.get(sent.key) as OutboxEntry;
  }
}
