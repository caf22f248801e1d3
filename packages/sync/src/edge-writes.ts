/**
 * How the Edge applies one Desired write of a Frontend (S4, S10, S12): the subscription, role,
 * schema version and grant checks, the re-created-document check on the base sync id, then one
 * `saveDesired` with the write's receipt, so a write sent again is answered from its receipt and
 * applied once. Returns the result frame; the session sends it.
 *
 * A session's writes go through a `WriteQueue`: the writes of one document apply one at a time in
 * the order they came; writes of different documents (a v3 `writes` frame, or a burst of
 * `write` frames) start side by side without waiting for each other, so they share the store's
 * group commit (one transaction, one fsync on SQLite) while each keeps its own receipt,
 * precondition and result.
 */
import type { JsonObject, Replica } from '@cse/core';
import { ConflictError, RECEIPT_COLLECTION, isCseError } from '@cse/core';
import type { EdgeSync } from './edge-sync.js';
import type { SessionGrant } from './edge-grants.js';
import type { PeerSchemas } from './peer-schemas.js';
import type { ClientMessage, EdgeMessage } from './protocol.js';

export type WriteMessage = Extract<ClientMessage, { t: 'write' }>;
export type ResultMessage = Extract<EdgeMessage, { t: 'result' }>;

/** What a write needs of the session it came on. */
export interface WriteSession {
  readonly edge: EdgeSync;
  /** The Frontend's id (its hello's). */
  readonly client: string;
  /** The Frontend's key id, on a secure channel (kept in the write's receipt: who wrote, for `history`). */
  readonly frontendId?: string | undefined;
  /** The protocol version the session speaks. */
  readonly version: number;
  readonly collections: ReadonlySet<string>;
  readonly schemas: PeerSchemas;
  readonly grant: SessionGrant;
  readonly replica: Replica;
}

export async function applyWrite(s: WriteSession, m: WriteMessage): Promise<ResultMessage> {
  const { edge, schemas } = s;
  // The Edge's documents go back in the Frontend's schema version.
  const peer = (doc: JsonObject | null): JsonObject | null => (doc === null ? null : schemas.toPeer(m.c, doc));
  const refuse = (code: 'FORBIDDEN' | 'VALIDATION' | 'UPDATE_REQUIRED', message: string, current: JsonObject | null = null): ResultMessage => {
    edge.stats.writesRefused++;
    return { t: 'result', w: m.w, ok: false, code, message, current: peer(current) };
  };
  const conflict = (message: string, current: JsonObject | null): ResultMessage => {
    edge.stats.writesConflict++;
    return { t: 'result', w: m.w, ok: false, code: 'CONFLICT', message, current: peer(current) };
  };
  if (!s.collections.has(m.c)) return refuse('FORBIDDEN', `${m.c} is not in this session's subscription`);
  const { workerType, role } = edge.registry.getMetadata(m.c);
  if (role !== 'desired') return refuse('FORBIDDEN', `${m.c} holds ${role} documents, which only the Edge writes`);
  if (!schemas.serves(m.c)) {
    // A peer without versions does not know the code: it gets VALIDATION saying the same.
    const message = `worker type "${workerType}" is at schema version ${edge.registry.getSchemaVersion(workerType)} on this Edge, which cannot take version ${schemas.versionOf(workerType)}: update required`;
    return refuse(schemas.announced ? 'UPDATE_REQUIRED' : 'VALIDATION', message);
  }
  const denied = s.grant.refuseWrite(m.c);
  if (denied !== undefined) {
    // The Edge's document goes with the refusal when the grant lets the Frontend read it, so the
    // replica shows the Edge's state beside the refused value (S4), not nothing.
    const current = s.grant.unreadable([m.c]).length === 0 ? (((await edge.store.get(m.c, m.id)) ?? null) as JsonObject | null) : null;
    return refuse('FORBIDDEN', denied, current);
  }
  const receiptId = `${s.client}/${m.w}`;
  if (m.bs !== undefined && m.base > 0) {
    // The base names a document by version and sync id: a document at the same version with
    // another sync id was deleted and re-created since (after its tombstone was compacted its
    // versions start again), so the write is stale. A write applied before (its receipt is
    // there) is answered as a duplicate below instead.
    const [seen, current] = await s.replica.getMany([
      { collection: RECEIPT_COLLECTION, id: receiptId },
      { collection: m.c, id: m.id },
    ]);
    const live = current && !current.deleted ? current : undefined;
    if ((seen === undefined || seen.deleted) && live !== undefined && live.version === m.base && live.syncId !== m.bs) {
      return conflict(`${workerType}/${JSON.stringify(m.id)} was re-created since version ${m.base} was read`, live.doc as JsonObject);
    }
  }
  try {
    const r = await edge.triangular.saveDesired(workerType, m.id, { ...m.body, id: m.id }, {
      expectedVersion: m.base,
      // Written in the Frontend's version: upgraded before it is checked and applied.
      schemaVersion: schemas.versionOf(workerType),
      receipt: { id: receiptId, body: { client: s.client, collection: m.c, doc: m.id, ...(s.frontendId === undefined ? {} : { frontendId: s.frontendId }) } },
    });
    if (r.duplicate === true) {
      edge.stats.writesDuplicate++;
      // The version that write produced, from its receipt (receipts of older Edges: the current one).
      const made = typeof r.receipt?.version === 'number' ? r.receipt.version : (r.doc?._version ?? 0);
      if (r.doc !== undefined && r.doc._version === made) {
        return { t: 'result', w: m.w, ok: true, version: made, sync: r.doc._sync_id, dup: true };
      }
      // Changed since. A v2 Frontend gets the current record: a page may never bring it (a
      // tombstone compacted away), and its replica must not keep the write's state as the Edge's.
      const [now] = s.version >= 2 ? await s.replica.getMany([{ collection: m.c, id: m.id }]) : [];
      const current = s.version >= 2 ? { current: peer((now?.doc ?? null) as JsonObject | null) } : {};
      return { t: 'result', w: m.w, ok: true, version: made, sync: 0, dup: true, ...current };
    }
    edge.stats.writesApplied++;
    return { t: 'result', w: m.w, ok: true, version: r.doc._version, sync: r.doc._sync_id, dup: false };
  } catch (e) {
    if (isCseError(e, 'CONFLICT')) return conflict(e.message, ((e as ConflictError).current ?? null) as JsonObject | null);
    if (isCseError(e, 'UPDATE_REQUIRED')) return refuse(schemas.announced ? 'UPDATE_REQUIRED' : 'VALIDATION', e.message);
    if (isCseError(e, 'VALIDATION')) {
      // The Frontend follows this Desired document: it gets the Edge's state to show beside the refusal.
      const current = await edge.store.get(m.c, m.id).catch(() => undefined);
      return refuse('VALIDATION', e.message, (current ?? null) as JsonObject | null);
    }
    throw e;
  }
}

export class WriteQueue {
  readonly #session: () => WriteSession;
  readonly #fail: (e: unknown) => void;
  readonly #chains = new Map<string, Promise<void>>();
  readonly #inFlight = new Set<Promise<void>>();

  constructor(session: () => WriteSession, fail: (e: unknown) => void) {
    this.#session = session;
    this.#fail = fail;
  }

  /** Applies `m` after the writes of its document that came before it. */
  apply(m: WriteMessage): Promise<ResultMessage> {
    const key = JSON.stringify([m.c, m.id]);
    const result = (this.#chains.get(key) ?? Promise.resolve()).then(() => applyWrite(this.#session(), m));
    const done = result.then(
      () => undefined,
      () => undefined,
    );
    this.#chains.set(key, done);
    void done.then(() => {
      if (this.#chains.get(key) === done) this.#chains.delete(key);
    });
    return result;
  }

  /** Keeps `work` (applying and answering) among the writes in flight; its failure ends the session. */
  track(work: Promise<void>): void {
    const next = work.catch((e: unknown) => this.#fail(e));
    this.#inFlight.add(next);
    void next.then(() => this.#inFlight.delete(next));
  }

  /** Resolves once the writes in flight are answered. */
  async idle(): Promise<void> {
    await Promise.all(this.#inFlight);
  }
}
