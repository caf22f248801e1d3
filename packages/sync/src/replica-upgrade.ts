/**
 * In-place upgrade of a Frontend's replica to the schema versions of its registry (S12).
 *
 * The replica records, per worker type, the version its documents and pending writes are in
 * (`_cse_replica/state.schemas`). A FrontendSync opened with a registry of newer versions (a new
 * dashboard release) converts, before it connects:
 * - every stored document of that type (identity, desired, observed) with the `up` functions,
 *   keeping its replica metadata, and the refused value of a visible conflict;
 * - every pending write of its Desired collection in the outbox (the value and a `prev` still to
 *   be sent), and the Edge states kept in `_cse_shadow` for them;
 * and records the new versions, all in one local commit (one transaction: one IndexedDB
 * transaction in a browser), so a reload mid-way finds the replica wholly old or wholly new.
 * Cursors stay: no full resync.
 *
 * Where a document cannot be converted (a migration function throws on it) or there is no path
 * (the registry is older than the replica: a downgraded release has no `down` of the newer
 * steps), the type's collections are resynced instead: their documents leave the replica and
 * their cursors go back to 0, in the same commit. Pending writes are kept, converted; a pending
 * write that cannot be converted (a downgrade, or an `up` that throws on it) is not sent in the
 * wrong shape: it becomes a visible conflict (S4) with a typed code, and its outcome is
 * `refused` with that code.
 */
import type { JsonObject, ReplicaWrite } from '@cse/core';
import { ErrorCode, canConvert, convertDoc, isCseError, updateRequired } from '@cse/core';
import type { ConflictInfo } from './apply-page.js';
import { edgeWrite } from './apply-page.js';
import type { Outbox, OutboxEntry } from './outbox.js';
import type { WriteOutcome } from './outcomes.js';
import type { ReplicaState } from './replica-state.js';
import { SHADOW_COLLECTION, docKey, userPart } from './replica-state.js';

type Role = 'identity' | 'desired' | 'observed';

/** What one upgrade did, per worker type that changed version. */
export interface ReplicaUpgrade {
  readonly workerType: string;
  readonly from: number;
  readonly to: number;
  /** `converted`: in place; `resynced`: its collections are fetched again from the Edge. */
  readonly mode: 'converted' | 'resynced';
  /** Documents converted in place. */
  readonly documents: number;
  /** Pending writes converted (values, and `prev` values still to be sent). */
  readonly writes: number;
  /** Pending writes that could not be converted: now conflicts, their outcome `refused`. */
  readonly refused: number;
}

/** The replica metadata of a document (every `_` field but `_schema`), kept across a conversion. */
function metaOf(doc: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(doc)) if (k.startsWith('_') && k !== '_schema' && v !== undefined) out[k] = v;
  return out;
}

/**
 * Brings the replica to the registry's versions (see the file comment). Runs inside the state's
 * queue, after `state.load()` and `outbox.load()`, before the first connection. Returns what it
 * did and the outcomes to deliver once it is committed (writes it refused).
 */
export async function upgradeReplica(state: ReplicaState, outbox: Outbox): Promise<{ upgrades: ReplicaUpgrade[]; outcomes: WriteOutcome[] }> {
  const registry = state.registry;
  const current: Record<string, number> = {};
  const byType = new Map<string, { collection: string; role: Role }[]>();
  for (const c of state.collections) {
    const { workerType, role } = registry.getMetadata(c);
    current[workerType] = registry.getSchemaVersion(workerType);
    const list = byType.get(workerType) ?? [];
    list.push({ collection: c, role: role as Role });
    byType.set(workerType, list);
  }
  const recorded = state.schemas;
  // A replica from before versions were recorded holds what this release wrote: its versions.
  const was = (t: string): number => recorded?.[t] ?? current[t] ?? 1;
  const changed = [...byType.keys()].filter((t) => was(t) !== current[t]).sort();
  const next = { ...(recorded ?? {}), ...current };
  const same = recorded !== undefined && Object.keys(next).length === Object.keys(recorded).length && Object.entries(next).every(([t, v]) => recorded[t] === v);
  if (changed.length === 0 && same) return { upgrades: [], outcomes: [] };

  const writes: ReplicaWrite[] = [];
  const upgrades: ReplicaUpgrade[] = [];
  const outcomes: WriteOutcome[] = [];
  const entryUpdates: { entry: OutboxEntry; body: JsonObject; prev: JsonObject | undefined }[] = [];
  const dropped: OutboxEntry[] = [];
  const cursors = { ...state.cursors };
  const now = state.now();
  for (const type of changed) {
    const schema = registry.getWorkerSchema(type);
    const from = was(type);
    const to = current[type] as number;
    const colls = byType.get(type) ?? [];
    const convert = (role: Role, doc: JsonObject): JsonObject => convertDoc(type, schema, role, userPart(doc), from, to);
    const pathFor = (role: Role): boolean => from <= schema.version && canConvert(schema, role, from, to);
    const pending = [...outbox.entries()].filter((e) => colls.some((c) => c.collection === e.c));
    const pendingKeys = new Set(pending.map((e) => e.key));
    let resync = !colls.every((c) => pathFor(c.role));
    // Pending writes first: one that cannot be converted is refused, and its type resynced so its
    // document shows the Edge's state beside the refused value.
    const failed: { entry: OutboxEntry; code: 'UPDATE_REQUIRED' | 'VALIDATION'; message: string }[] = [];
    let converted = 0;
    for (const entry of pending) {
      try {
        if (!pathFor('desired')) throw updateRequired(type, from, to);
        const body = convert('desired', entry.body);
        const prev = entry.prev === undefined ? undefined : convert('desired', entry.prev.body);
        entryUpdates.push({ entry, body, prev });
        converted += prev === undefined ? 1 : 2;
      } catch (e) {
        if (!isCseError(e)) throw e;
        failed.push({ entry, code: e.code === ErrorCode.UPDATE_REQUIRED ? 'UPDATE_REQUIRED' : 'VALIDATION', message: `a pending write of the previous release was not sent: ${e.message}` });
      }
    }
    if (failed.length > 0) resync = true;
    const docWrites: ReplicaWrite[] = [];
    if (!resync) {
      try {
        for (const { collection, role } of colls) {
          for (const r of await state.replica.scan(collection)) {
            if (r.deleted || pendingKeys.has(docKey(collection, r.id))) continue; // a pending document: converted with its write below
            const doc = r.doc;
            const conflict = doc._conflict as ConflictInfo | undefined;
            const body: JsonObject = { ...metaOf(doc), ...(doc._edge_version === 0 && conflict !== undefined ? { id: r.id } : convert(role, doc)) };
            if (conflict !== undefined) body._conflict = { ...conflict, value: convert(role, conflict.value) } as unknown as JsonObject;
            docWrites.push({ collection, id: r.id, kind: 'put', body });
          }
        }
        for (const key of pendingKeys) {
          const [shadow] = await state.replica.getMany([{ collection: SHADOW_COLLECTION, id: key }]);
          if (shadow === undefined || shadow.deleted || shadow.doc.d === true) continue;
          docWrites.push({ collection: SHADOW_COLLECTION, id: key, kind: 'put', body: { ...shadow.doc, doc: convert('desired', shadow.doc.doc as JsonObject) } });
        }
      } catch (e) {
        if (!isCseError(e)) throw e;
        resync = true;
      }
    }
    let documents = 0;
    if (resync) {
      // Every Edge state of the type leaves (pages from 0 bring it again); a visible conflict stays
      // (S4), its refused value converted where it can be.
      for (const { collection, role } of colls) {
        for (const r of await state.replica.scan(collection)) {
          if (r.deleted || pendingKeys.has(docKey(collection, r.id))) continue;
          const conflict = r.doc._sync_status === 'conflict' ? (r.doc._conflict as ConflictInfo | undefined) : undefined;
          if (conflict === undefined) {
            writes.push({ collection, id: r.id, kind: 'delete' });
            continue;
          }
          let value = conflict.value;
          try {
            if (pathFor(role)) value = convert(role, value);
          } catch (e) {
            if (!isCseError(e)) throw e;
          }
          writes.push(edgeWrite({ c: collection, id: r.id, s: 0, v: 0, d: true, doc: {} }, now, { ...conflict, value }));
        }
        delete cursors[collection];
      }
      for (const key of pendingKeys) writes.push({ collection: SHADOW_COLLECTION, id: key, kind: 'delete' });
    } else {
      writes.push(...docWrites);
      documents = docWrites.filter((w) => w.collection !== SHADOW_COLLECTION).length;
    }
    for (const { entry, body } of entryUpdates.filter((u) => pendingKeys.has(u.entry.key))) {
      const [local] = await state.replica.getMany([{ collection: entry.c, id: entry.id }]);
      const meta = local !== undefined && !local.deleted ? metaOf(local.doc) : { _edge_sync_id: 0, _edge_version: 0, _sync_status: 'pending' };
      // In a resync the Edge state the write is based on comes again in a page (to the shadow).
      writes.push({ collection: entry.c, id: entry.id, kind: 'put', body: { ...meta, ...body } });
    }
    for (const { entry, code, message } of failed) {
      dropped.push(entry);
      const conflict: ConflictInfo = { value: entry.body, base: entry.base, code, message };
      writes.push(outbox.remove(entry.key), edgeWrite({ c: entry.c, id: entry.id, s: 0, v: 0, d: true, doc: {} }, now, conflict));
      for (const w of entry.prev ? [entry.prev, entry] : [entry]) outcomes.push({ kind: 'refused', writeId: w.w, collection: entry.c, id: entry.id, value: w.body, code, message });
    }
    const refused = failed.reduce((n, f) => n + (f.entry.prev === undefined ? 1 : 2), 0);
    upgrades.push({ workerType: type, from, to, mode: resync ? 'resynced' : 'converted', documents, writes: converted, refused });
  }
  const upgraded = entryUpdates.map((u): OutboxEntry => ({ ...u.entry, body: u.body, prev: u.entry.prev && u.prev ? { ...u.entry.prev, body: u.prev } : undefined }));
  for (const entry of upgraded) writes.push(outbox.put(entry));
  const schemasBefore = state.schemas;
  state.schemas = next;
  try {
    await state.replica.commit([...writes, state.stateWrite(state.epoch, cursors)]);
  } catch (e) {
    state.schemas = schemasBefore;
    throw e;
  }
  state.cursors = cursors;
  for (const entry of upgraded) outbox.replace(entry);
  for (const e of dropped) outbox.forget(e.key);
  return { upgrades, outcomes };
}
