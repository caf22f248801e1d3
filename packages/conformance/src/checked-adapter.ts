/**
 * The adapter as every group sees it: each value a member returns is checked for shape (and the
 * cheap per-call rules of `adapter.ts`) before the Store or a check touches it. A malformed value
 * fails with a `Violation` that names the call, what was expected and what came, instead of a
 * `TypeError` somewhere inside the Store.
 */
import type { CommitRequest, DocKey, IndexProbe, StorageAdapter, StoredRecord } from '@cse/core';
import { fail, show } from './assert.js';

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function bad(call: string, expected: string, got: unknown, detail?: string): never {
  fail(`adapter.${call} returned a malformed value: expected ${expected}${detail ? ` (${detail})` : ''}, got ${show(got, 300)}`);
}

/** Checks one `StoredRecord`; `where` names it in the message. */
export function checkRecord(call: string, r: unknown, where = 'a record'): StoredRecord {
  const expected = `${where} { collection, id, syncId, version, deleted, doc }`;
  if (!isObject(r)) bad(call, expected, r);
  if (typeof r.collection !== 'string' || typeof r.id !== 'string') bad(call, expected, r, 'collection and id must be strings');
  if (!isCount(r.syncId) || r.syncId < 1) bad(call, expected, r, 'syncId must be a positive integer');
  if (!isCount(r.version) || r.version < 1) bad(call, expected, r, 'version must be a positive integer');
  if (typeof r.deleted !== 'boolean') bad(call, expected, r, 'deleted must be a boolean');
  if (!isObject(r.doc)) bad(call, expected, r, 'doc must be a JSON object');
  const doc = r.doc;
  if (doc.id !== r.id || doc._sync_id !== r.syncId || doc._version !== r.version) {
    bad(call, expected, r, 'doc.id, doc._sync_id and doc._version must equal id, syncId and version');
  }
  if ((doc._deleted === true) !== r.deleted) bad(call, expected, r, 'doc._deleted must be true exactly for a tombstone');
  return r as unknown as StoredRecord;
}

function checkRecords(call: string, v: unknown): StoredRecord[] {
  if (!Array.isArray(v)) bad(call, 'an array of records', v);
  return v.map((r, i) => checkRecord(call, r, `element [${i}]`));
}

/** Wraps `adapter`; `capabilities`, `subscribe` and `close` pass through unchanged; `changesWithSequence` is checked like `changes`. */
export function checkedAdapter(adapter: StorageAdapter): StorageAdapter {
  const commit = async (request: CommitRequest) => {
    const call = `commit(${request.writes.length} write(s))`;
    const result: unknown = await adapter.commit(request);
    if (!isObject(result) || typeof result.ok !== 'boolean') bad(call, '{ ok: true, records } or { ok: false, failures }', result);
    if (result.ok) {
      const records = checkRecords(call, result.records);
      const n = request.writes.filter((w) => w.kind !== 'check').length;
      if (records.length !== n) bad(call, `${n} record(s), one per put/delete write`, result.records);
      records.forEach((r, i) => {
        if (i > 0 && r.syncId !== (records[i - 1] as StoredRecord).syncId + 1) bad(call, 'records with consecutive syncIds', records.map((x) => x.syncId));
      });
    } else {
      if (!Array.isArray(result.failures) || result.failures.length === 0) bad(call, 'a non-empty failures array', result.failures);
      for (const f of result.failures as unknown[]) {
        if (!isObject(f) || !isCount(f.index) || f.index >= request.writes.length) bad(call, 'failures [{ index, current }] with index into writes', f);
        if (f.current !== undefined) checkRecord(call, f.current, 'failure.current');
      }
    }
    return result as unknown as Awaited<ReturnType<StorageAdapter['commit']>>;
  };
  const getMany = async (keys: readonly DocKey[]) => {
    const call = `getMany(${keys.length} key(s))`;
    const result: unknown = await adapter.getMany(keys);
    if (!Array.isArray(result) || result.length !== keys.length) bad(call, `an array of ${keys.length} (record | undefined), in the order of keys`, result);
    return result.map((r, i) => {
      if (r === undefined) return undefined;
      const rec = checkRecord(call, r, `element [${i}]`);
      const k = keys[i] as DocKey;
      if (rec.collection !== k.collection || rec.id !== k.id) bad(call, `element [${i}] to be ${show(k)} (order of keys)`, { collection: rec.collection, id: rec.id });
      return rec;
    });
  };
  const scanCollection = async (collection: string) => {
    const call = `scanCollection(${show(collection)})`;
    const records = checkRecords(call, await adapter.scanCollection(collection));
    for (const r of records) if (r.collection !== collection) bad(call, `only records of ${show(collection)}`, r.collection);
    return records;
  };
  const changes = async (after: number, options: { readonly limit: number; readonly collections?: readonly string[] }) => {
    const call = `changes(${after}, ${show(options)})`;
    const records = checkRecords(call, await adapter.changes(after, options));
    if (records.length > options.limit) bad(call, `at most limit ${options.limit} records`, `${records.length} records`);
    let prev = after;
    for (const r of records) {
      if (r.syncId <= prev) bad(call, `syncIds strictly above ${after}, ascending`, records.map((x) => x.syncId));
      prev = r.syncId;
      if (options.collections !== undefined && !options.collections.includes(r.collection)) bad(call, `only collections ${show(options.collections)}`, r.collection);
    }
    return records;
  };
  const listCollections = async () => {
    const result: unknown = await adapter.listCollections();
    if (!Array.isArray(result) || !result.every((c) => typeof c === 'string')) bad('listCollections()', 'an array of strings', result);
    const names = result as string[];
    if (names.some((c, i) => i > 0 && !((names[i - 1] as string) < c))) bad('listCollections()', 'sorted names without repeats', names);
    return names;
  };
  const sequence = async () => {
    const result: unknown = await adapter.sequence();
    if (!isObject(result) || !isCount(result.lastSyncId) || !isCount(result.compactedThrough)) bad('sequence()', '{ lastSyncId, compactedThrough } (non-negative integers)', result);
    return { lastSyncId: result.lastSyncId as number, compactedThrough: result.compactedThrough as number };
  };
  const wrapped: StorageAdapter = {
    capabilities: adapter.capabilities,
    commit,
    getMany,
    scanCollection,
    changes,
    listCollections,
    sequence,
    close: () => adapter.close(),
  };
  // The change feed passes through: a signal carries no value to check, and a wrapper that
  // hid it would make every `changeFeed` adapter look deaf to the watch group.
  const subscribe = adapter.subscribe?.bind(adapter);
  if (subscribe !== undefined) {
    (wrapped as { subscribe?: StorageAdapter['subscribe'] }).subscribe = (listener: () => void) => {
      const off: unknown = subscribe(listener);
      if (typeof off !== 'function') bad('subscribe(listener)', 'an unsubscribe function', off);
      return off as () => void;
    };
  }
  // A page with the counter: the same checks as `changes`, and the counter must cover the page.
  const together = adapter.changesWithSequence?.bind(adapter);
  if (together !== undefined) {
    (wrapped as { changesWithSequence?: StorageAdapter['changesWithSequence'] }).changesWithSequence = async (after, options) => {
      const call = `changesWithSequence(${after}, ${show(options)})`;
      const result: unknown = await together(after, options);
      if (!isObject(result) || !isObject(result.sequence)) bad(call, '{ records, sequence }', result);
      const seq = result.sequence as Record<string, unknown>;
      if (!isCount(seq.lastSyncId) || !isCount(seq.compactedThrough)) bad(call, 'sequence { lastSyncId, compactedThrough } (non-negative integers)', seq);
      const records = checkRecords(call, result.records);
      if (records.length > options.limit) bad(call, `at most limit ${options.limit} records`, `${records.length} records`);
      let prev = after;
      for (const r of records) {
        if (r.syncId <= prev) bad(call, `syncIds strictly above ${after}, ascending`, records.map((x) => x.syncId));
        prev = r.syncId;
        if (r.syncId > (seq.lastSyncId as number)) bad(call, `records read with the counter: no syncId above sequence.lastSyncId ${String(seq.lastSyncId)}`, r.syncId);
        if (options.collections !== undefined && !options.collections.includes(r.collection)) bad(call, `only collections ${show(options.collections)}`, r.collection);
      }
      return { records, sequence: { lastSyncId: seq.lastSyncId as number, compactedThrough: seq.compactedThrough as number } };
    };
  }
  passIndexes(adapter, wrapped);
  const inner = adapter.compact?.bind(adapter);
  if (inner === undefined) return wrapped;
  return {
    ...wrapped,
    compact: async (through: number) => {
      const removed: unknown = await inner(through);
      if (!isCount(removed)) bad(`compact(${through})`, 'the number of tombstones removed', removed);
      return removed;
    },
  };
}

/** The index members pass through, their results checked for shape. */
function passIndexes(adapter: StorageAdapter, wrapped: StorageAdapter): void {
  const target = wrapped as { -readonly [K in keyof StorageAdapter]: StorageAdapter[K] };
  const create = adapter.createIndex?.bind(adapter);
  if (create !== undefined) target.createIndex = (collection: string, field: string) => create(collection, field);
  const drop = adapter.dropIndex?.bind(adapter);
  if (drop !== undefined) target.dropIndex = (collection: string, field: string) => drop(collection, field);
  const list = adapter.listIndexes?.bind(adapter);
  if (list !== undefined) {
    target.listIndexes = async () => {
      const result: unknown = await list();
      const okShape = Array.isArray(result) && result.every((s) => isObject(s) && typeof s.collection === 'string' && typeof s.field === 'string');
      if (!okShape) bad('listIndexes()', 'an array of { collection, field }', result);
      return result as { collection: string; field: string }[];
    };
  }
  const find = adapter.findIndexed?.bind(adapter);
  if (find !== undefined) {
    target.findIndexed = async (collection: string, probes: readonly IndexProbe[]) => {
      const call = `findIndexed(${show(collection)}, ${show(probes, 200)})`;
      const result: unknown = await find(collection, probes);
      if (result === undefined) return undefined;
      const records = checkRecords(call, result);
      for (const r of records) if (r.collection !== collection) bad(call, `only records of ${show(collection)}`, r.collection);
      return records;
    };
  }
}
