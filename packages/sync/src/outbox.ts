/**
 * The durable outbox: one entry per document with a pending Desired write (latest value, the
 * Edge version it is based on, a write id the Edge keeps a receipt of), stored in
 * `_cse_outbox` in the same local commit as the document itself (S3), and the bookkeeping of
 * which write id is on the wire for which document.
 */
import type { JsonObject, ReplicaWrite, StoredRecord } from '@cse/core';
import { encode } from './protocol.js';
import type { ReplicaState } from './replica-state.js';
import { OUTBOX_COLLECTION, docKey, randomId, userPart } from './replica-state.js';
import type { Transport } from './transport.js';

export interface OutboxEntry {
  readonly key: string;
  readonly seq: number;
  readonly w: string;
  readonly c: string;
  readonly id: string;
  readonly body: JsonObject;
  base: number;
}

/** An outbox entry as stored (its document id apart from the record's own id, the key). */
function outboxBody(e: OutboxEntry): Record<string, unknown> {
  return { key: e.key, seq: e.seq, w: e.w, c: e.c, docId: e.id, body: e.body, base: e.base };
}

export class Outbox {
  readonly #state: ReplicaState;
  readonly #entries = new Map<string, OutboxEntry>();
  /** Per document key, the write id on the wire; per write id, its key and when it went. */
  readonly #inflight = new Map<string, string>();
  readonly #sentAt = new Map<string, { key: string; at: number }>();
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
      this.#entries.set(e.key, { key: e.key, seq: e.seq, w: e.w, c: e.c, id: e.docId, body: e.body, base: e.base });
      this.#seq = Math.max(this.#seq, e.seq);
    }
  }

  /**
   * Writes a Desired document locally (`_sync_status: 'pending'`) and its outbox entry in one
   * commit, based on the Edge version the replica holds (or the pending write's base). Runs
   * inside the state's queue.
   */
  async write(collection: string, workerId: string, doc: Readonly<Record<string, unknown>>): Promise<{ entry: OutboxEntry; doc: JsonObject }> {
    const replica = this.#state.replica;
    const key = docKey(collection, workerId);
    const [local] = await replica.getMany([{ collection, id: workerId }]);
    const live = local && !local.deleted ? local.doc : undefined;
    const known = this.#entries.get(key);
    const base = known ? known.base : typeof live?._edge_version === 'number' ? live._edge_version : 0;
    const body = userPart({ ...(doc as JsonObject), id: workerId });
    const entry: OutboxEntry = { key, seq: ++this.#seq, w: randomId(), c: collection, id: workerId, body, base };
    const [, saved] = await replica.commit([
      this.put(entry),
      {
        collection,
        id: workerId,
        kind: 'put',
        body: { ...body, _edge_sync_id: (live?._edge_sync_id as number | undefined) ?? 0, _edge_version: (live?._edge_version as number | undefined) ?? 0, _sync_status: 'pending' },
      },
    ]);
    this.#entries.set(key, entry);
    return { entry, doc: (saved as StoredRecord).doc };
  }

  /** The replica write that stores `entry`. */
  put(entry: OutboxEntry): ReplicaWrite {
    return { collection: OUTBOX_COLLECTION, id: entry.key, kind: 'put', body: outboxBody(entry) };
  }

  /** The replica write that removes the entry of `key`; call `forget` once it is committed. */
  remove(key: string): ReplicaWrite {
    return { collection: OUTBOX_COLLECTION, id: key, kind: 'delete' };
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

  /** Sends `e` on `t` and remembers it is on the wire. */
  send(t: Transport, e: OutboxEntry): void {
    this.#inflight.set(e.key, e.w);
    this.#sentAt.set(e.w, { key: e.key, at: Date.now() });
    t.send(encode({ t: 'write', w: e.w, c: e.c, id: e.id, base: e.base, body: e.body }));
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
