/**
 * What the Edge sends, applied to the replica: pages of changes (each with the cursors it moves,
 * one local commit, S2), results of the Frontend's writes, and a rebuild on a new epoch.
 *
 * While a local write to a document is pending, the Edge's newer states of it go to
 * `_cse_shadow` instead of the document, so the user's value stays visible; the write's result
 * then settles the document from the shadow, or turns it into a visible conflict (S4).
 */
import type { JsonObject, ReplicaWrite } from '@cse/core';
import type { EdgeMessage, WireChange } from './protocol.js';
import { ProtocolError } from './protocol.js';
import type { WriteOutcome } from './outcomes.js';
import type { Outbox, OutboxEntry, OutboxWrite } from './outbox.js';
import type { ReplicaState } from './replica-state.js';
import { SHADOW_COLLECTION, docKey, userPart } from './replica-state.js';

/** What `_conflict` holds on a document the Edge refused a write to. */
export interface ConflictInfo {
  /** The value the Edge refused. */
  readonly value: JsonObject;
  /** The Edge version it was based on. */
  readonly base: number;
  readonly code: 'CONFLICT' | 'FORBIDDEN' | 'VALIDATION' | 'UPDATE_REQUIRED';
  readonly message: string;
  /** The Edge has no live document here (deleted, or never created): keeping theirs removes it. */
  readonly edgeDeleted?: true;
}

/** The Edge's state of one document. */
interface Shadow {
  readonly s: number;
  readonly v: number;
  readonly d: boolean;
  readonly doc: JsonObject;
}

type Page = Extract<EdgeMessage, { t: 'page' }>;
type Result = Extract<EdgeMessage, { t: 'result' }>;

/**
 * A new epoch or an unusable cursor: start again from 0, keeping the pending writes and the
 * unresolved conflicts (S4: a refused value is never dropped silently). A conflict keeps its
 * refused value on an empty Edge state until the pages from 0 bring the Edge's document again.
 */
export async function rebuild(state: ReplicaState, outbox: Outbox, epoch: string): Promise<void> {
  const writes: ReplicaWrite[] = [];
  const now = state.now();
  for (const c of state.collections) {
    for (const r of await state.replica.scan(c)) {
      if (r.deleted || outbox.has(docKey(c, r.id))) continue;
      const conflict = r.doc._sync_status === 'conflict' ? r.doc._conflict : undefined;
      if (conflict === undefined) writes.push({ collection: c, id: r.id, kind: 'delete' });
      else writes.push(edgeWrite({ c, id: r.id, s: 0, v: 0, d: true, doc: {} }, now, conflict));
    }
  }
  for (const r of await state.replica.scan(SHADOW_COLLECTION)) if (!r.deleted) writes.push({ collection: SHADOW_COLLECTION, id: r.id, kind: 'delete' });
  await state.replica.commit([...writes, state.stateWrite(epoch, {})]);
  state.epoch = epoch;
  state.cursors = {};
}

/**
 * Applies a page and moves the cursors it covers, in one commit. Returns false for a copy of a
 * page already applied (nothing to acknowledge).
 *
 * @throws `PROTOCOL` (a page of a collection not followed, or not starting at the cursors).
 */
export async function applyPage(state: ReplicaState, outbox: Outbox, p: Page): Promise<boolean> {
  for (const c of p.cs) if (!state.collections.includes(c)) throw new ProtocolError(`a page of ${c}, which is not followed`);
  // Where the pages before this one leave the cursors, committed or still committing.
  const head = state.pipelineHead();
  const at = p.cs.map((c) => head.cursors[c] ?? 0);
  if (at.every((n) => n >= p.to) && p.from < p.to) return false; // a copy of a page already applied
  if (at.some((n) => n !== p.from)) throw new ProtocolError(`a page from ${p.from}, but the cursors are at ${at.join(', ')}`);
  const now = state.now();
  const registry = state.registry;
  // Only Desired documents can hold a conflict (only they are written here): read those alone.
  const roles = new Set(p.cs.filter((c) => registry.isRegistered(c) && registry.getMetadata(c).role === 'desired'));
  const desired = roles.size === 0 ? [] : p.changes.filter((ch) => roles.has(ch.c));
  const found = desired.length === 0 ? [] : await state.replica.getMany(desired.map((ch) => ({ collection: ch.c, id: ch.id })));
  const locals = new Map(desired.map((ch, i) => [docKey(ch.c, ch.id), found[i]]));
  const writes: ReplicaWrite[] = [];
  p.changes.forEach((ch) => {
    const key = docKey(ch.c, ch.id);
    if (outbox.has(key)) {
      writes.push({ collection: SHADOW_COLLECTION, id: key, kind: 'put', body: { s: ch.s, v: ch.v, d: ch.d, doc: ch.doc } });
      return;
    }
    const local = locals.get(key);
    const conflict = local && !local.deleted && local.doc._sync_status === 'conflict' ? local.doc._conflict : undefined;
    writes.push(edgeWrite(ch, now, conflict));
  });
  const cursors = { ...head.cursors };
  for (const c of p.cs) cursors[c] = p.to;
  // The state document as the page before left it (the same snapshot as the cursors checked
  // above): if that page failed, this one fails too.
  writes.push({ ...state.stateWrite(state.epoch, cursors), expect: { kind: 'version', version: head.version } });
  const committed = state.commitPage(writes, cursors, head.version);
  // The commit is issued: the next page may be prepared meanwhile (see replica-state.ts).
  state.releaseQueue();
  await committed;
  return true;
}

/**
 * The replica write that mirrors an Edge state (keeping an unresolved conflict visible, marked
 * `edgeDeleted` while the Edge has no live document there).
 */
export function edgeWrite(ch: Pick<WireChange, 'c' | 'id' | 's' | 'v' | 'd' | 'doc'>, now: string, conflict: unknown): ReplicaWrite {
  if (conflict !== undefined) {
    const { edgeDeleted: _, ...refused } = conflict as ConflictInfo;
    return {
      collection: ch.c,
      id: ch.id,
      kind: 'put',
      body: { ...(ch.d ? {} : userPart(ch.doc)), _edge_sync_id: ch.s, _edge_version: ch.v, _sync_status: 'conflict', _synced_at: now, _conflict: { ...refused, ...(ch.d ? { edgeDeleted: true } : {}) } },
    };
  }
  if (ch.d) return { collection: ch.c, id: ch.id, kind: 'delete' };
  return { collection: ch.c, id: ch.id, kind: 'put', body: userPart(ch.doc, { _edge_sync_id: ch.s, _edge_version: ch.v, _sync_status: 'synced', _synced_at: now }) };
}

/**
 * Applies the result of one of `entry`'s writes. Returns the outcomes to deliver (once the commit
 * is done) and whether the entry must go out again (its `prev` was answered; the newer value
 * follows, re-based on the version `prev` produced unless the caller pinned its base).
 * Otherwise the document is settled: synced or a conflict, and its outbox entry is gone.
 */
export async function applyResult(state: ReplicaState, outbox: Outbox, entry: OutboxEntry, r: Result): Promise<{ again: boolean; outcomes: WriteOutcome[] }> {
  const now = state.now();
  const sent: OutboxWrite = entry.prev !== undefined && entry.prev.w === r.w ? entry.prev : entry;
  const [shadowRecord] = await state.replica.getMany([{ collection: SHADOW_COLLECTION, id: entry.key }]);
  const sd = shadowRecord && !shadowRecord.deleted ? shadowRecord.doc : undefined;
  const shadow: Shadow | undefined = sd && { s: sd.s as number, v: sd.v as number, d: sd.d as boolean, doc: sd.doc as JsonObject };
  const theirs = r.ok ? undefined : edgeStateOf(shadow, r.current);
  const outcome = outcomeOf(entry, sent, r, theirs);
  if (sent !== entry) {
    entry.prev = undefined;
    if (r.ok && !entry.pinned) {
      entry.base = r.version;
      entry.bs = r.sync > 0 ? r.sync : undefined;
    }
    await state.replica.commit([outbox.put(entry)]);
    return { again: true, outcomes: [outcome] };
  }
  const writes: ReplicaWrite[] = [outbox.remove(entry.key)];
  if (shadow) writes.push({ collection: SHADOW_COLLECTION, id: entry.key, kind: 'delete' });
  if (r.ok && r.current !== undefined) {
    // A duplicate whose document changed since: the Edge's current record, or the shadow if it
    // is newer (sync ids order them, re-created documents included); none at all: deleted.
    const cur = r.current === null ? undefined : edgeStateOf(undefined, r.current);
    const newest = shadow && (cur === undefined || shadow.s > cur.s) && r.current !== null ? shadow : cur;
    writes.push(newest === undefined ? { collection: entry.c, id: entry.id, kind: 'delete' } : edgeWrite({ c: entry.c, id: entry.id, ...newest }, now, undefined));
  } else if (r.ok) {
    // A newer Edge state is in the shadow (seen already) or still to come in a page (its sync
    // id is past the cursors).
    if (shadow && shadow.v > r.version) writes.push(edgeWrite({ c: entry.c, id: entry.id, ...shadow }, now, undefined));
    else writes.push({ collection: entry.c, id: entry.id, kind: 'put', body: { ...entry.body, _edge_sync_id: r.sync, _edge_version: r.version, _sync_status: 'synced', _synced_at: now } });
  } else {
    // No Edge state known at all: the document is not on the Edge (never was, as far as this
    // replica knows); the conflict stays visible on an empty document until it is resolved.
    const edge = theirs ?? { s: 0, v: 0, d: true, doc: {} };
    const conflict: ConflictInfo = { value: entry.body, base: entry.base, code: r.code, message: r.message };
    writes.push(edgeWrite({ c: entry.c, id: entry.id, ...edge }, now, conflict));
  }
  await state.replica.commit(writes);
  outbox.forget(entry.key);
  return { again: false, outcomes: [outcome] };
}

/** The Edge's newest known state of a refused write's document: the shadow or the result's `current`. */
function edgeStateOf(shadow: Shadow | undefined, current: JsonObject | null): Shadow | undefined {
  const cur = current && typeof current._version === 'number' ? current : undefined;
  if (shadow && (cur === undefined || shadow.v >= (cur._version as number))) return shadow;
  return cur && { s: cur._sync_id as number, v: cur._version as number, d: cur._deleted === true, doc: cur };
}

function outcomeOf(entry: OutboxEntry, sent: OutboxWrite, r: Result, theirs: Shadow | undefined): WriteOutcome {
  const base = { writeId: sent.w, collection: entry.c, id: entry.id, value: sent.body };
  if (r.ok) return { ...base, kind: 'applied', version: r.version, syncId: r.sync, duplicate: r.dup };
  if (r.code !== 'CONFLICT') return { ...base, kind: 'refused', code: r.code, message: r.message };
  const live = theirs !== undefined && !theirs.d;
  return { ...base, kind: 'conflict', base: sent.base, theirs: live ? userPart(theirs.doc) : null, theirsVersion: theirs?.v ?? 0, message: r.message };
}
