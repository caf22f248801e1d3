/**
 * Secondary indexes on Redis: one sorted set per index, every member scored 0 and ordered by
 * bytes (`ZRANGE ... BYLEX`), the member being `indexKey(entry, <document member>)` (core's
 * encoding makes byte order `compareJson` order). Keys, all with the namespace's hash tag:
 *
 * | key | what |
 * |---|---|
 * | `x:<collection>:<field>` | the entries of one index |
 * | `indexes` | hash: `<collection>:<field>` → `building` or `ready` |
 * | `meta` field `ixepoch` | raised by every declaration and drop |
 * | document hash field `ix` | JSON `[[field, member], ...]`: the entries this document holds |
 *
 * A commit carries the entries of its new records, computed in JavaScript from the index list
 * of epoch E; the commit script refuses to run when the stored epoch is not E (the adapter then
 * reads the list again and retries), so no commit can miss an index declared by another client.
 * Inside the script the entries a document held (its `ix` field) are removed and the new ones
 * added, atomically with the records.
 *
 * `createIndex` is resumable, not atomic: Lua cannot decode document bodies faithfully (cjson
 * rounds numbers), so the entries of existing documents are computed in JavaScript. It declares
 * the index (`building`: from then on every commit keeps it), fills the entries of the documents
 * already there page by page (a page skips documents that changed since they were read: their
 * commit wrote their entries), then marks it `ready`. Only ready indexes answer `findIndexed`.
 * A build cut short (a crash, a lost connection) leaves the index `building`, still kept by
 * commits and not used by `find`; the next `createIndex` call finishes it.
 */
import type { IndexProbe, StoredRecord } from '@cse/core';
import { indexEntry, indexKey, indexKeyRange } from '@cse/core';

/** What this client knows of the declared indexes, valid for `epoch`. */
export interface IndexState {
  readonly epoch: string;
  /** `collection` → fields, building or ready. */
  readonly fields: ReadonlyMap<string, readonly string[]>;
}

/** The `ix` argument of one write: the entries of its new record (`''` when its collection has no index). */
export function entriesArg(state: IndexState, collection: string, member: string, body: Record<string, unknown> | undefined): string {
  const fields = state.fields.get(collection);
  if (fields === undefined) return '';
  const entries: [string, string][] = [];
  if (body !== undefined) {
    for (const field of fields) {
      const entry = indexEntry(body as never, field);
      if (entry !== undefined) entries.push([field, indexKey(entry, member)]);
    }
  }
  return JSON.stringify(entries);
}

/** Parses the reply of `READ_INDEXES`. */
export function parseState(reply: unknown): IndexState {
  const [epoch, flat] = reply as [string, string[]];
  const fields = new Map<string, string[]>();
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i] as string;
    const at = name.indexOf(':');
    const collection = name.slice(0, at);
    const list = fields.get(collection) ?? [];
    list.push(name.slice(at + 1));
    fields.set(collection, list);
  }
  return { epoch, fields };
}

/** ARGV of `FIND_INDEXED` for the probes: per probe, field, range count, then `gte`, `lt` pairs. */
export function probeArgs(probes: readonly IndexProbe[]): string[] {
  const args: string[] = [];
  for (const p of probes) {
    const ranges = p.selectors.map(indexKeyRange).filter((r) => r.gte < r.lt);
    args.push(p.field, String(ranges.length));
    for (const r of ranges) args.push(r.gte, r.lt);
  }
  return args;
}

/** ARGV triples of `FILL_INDEX` for records read before the fill: document member, sync id, entry member. */
export function fillArgs(records: readonly StoredRecord[], field: string, member: (id: string) => string): string[] {
  const args: string[] = [];
  for (const r of records) {
    const entry = r.deleted ? undefined : indexEntry(r.doc, field);
    if (entry === undefined) continue;
    const m = member(r.id);
    args.push(m, String(r.syncId), indexKey(entry, m));
  }
  return args;
}

const READ = `local function read(key) return redis.call('HMGET', key, 'k', 'i', 's', 'v', 'x', 'c', 'u', 'd', 'b') end`;

/** KEYS: meta, indexes. Returns `{epoch, {name, state, ...}}`. */
export const READ_INDEXES = `
return {redis.call('HGET', KEYS[1], 'ixepoch') or '0', redis.call('HGETALL', KEYS[2])}
`;

/** KEYS: meta, indexes. ARGV: name. Declares the index as building (if new) and returns its state. */
export const DECLARE_INDEX = `
local state = redis.call('HGET', KEYS[2], ARGV[1])
if state then return state end
redis.call('HSET', KEYS[2], ARGV[1], 'building')
redis.call('HINCRBY', KEYS[1], 'ixepoch', 1)
return 'building'
`;

/** KEYS: indexes. ARGV: name. Marks a building index ready (unless it was dropped meanwhile). */
export const READY_INDEX = `
if redis.call('HGET', KEYS[1], ARGV[1]) then redis.call('HSET', KEYS[1], ARGV[1], 'ready') end
return 1
`;

/** KEYS: meta, indexes, the index's sorted set. ARGV: name. */
export const DROP_INDEX = `
if redis.call('HDEL', KEYS[2], ARGV[1]) == 1 then
  redis.call('DEL', KEYS[3])
  redis.call('HINCRBY', KEYS[1], 'ixepoch', 1)
end
return 1
`;

/**
 * KEYS: indexes, the index's sorted set. ARGV: name, key prefix, field, then triples (document
 * member, sync id read, entry member). Adds each entry whose document still has that sync id
 * and is live, replacing any entry the document held for the field. Returns how many.
 */
export const FILL_INDEX = `
if not redis.call('HGET', KEYS[1], ARGV[1]) then return 0 end
local prefix, field, n = ARGV[2], ARGV[3], 0
for j = 4, #ARGV, 3 do
  local key = prefix .. 'd:' .. ARGV[j]
  local r = redis.call('HMGET', key, 's', 'x', 'ix')
  if r[1] == ARGV[j + 1] and r[2] == '0' then
    local kept = {}
    for _, e in ipairs(cjson.decode(r[3] or '[]')) do
      if e[1] == field then redis.call('ZREM', KEYS[2], e[2]) else kept[#kept + 1] = e end
    end
    kept[#kept + 1] = {field, ARGV[j + 2]}
    redis.call('ZADD', KEYS[2], 0, ARGV[j + 2])
    redis.call('HSET', key, 'ix', cjson.encode(kept))
    n = n + 1
  end
end
return n
`;

/**
 * KEYS: indexes. ARGV: key prefix, collection, then per probe: field, range count, gte/lt pairs.
 * Returns `{0}` when no probe's field has a ready index, else `{1, record, ...}` (fields as
 * `RECORD_FIELDS`), from one atomic read.
 */
export const FIND_INDEXED = `${READ}
local prefix, collection = ARGV[1], ARGV[2]
local j = 3
while j <= #ARGV do
  local field, n = ARGV[j], tonumber(ARGV[j + 1])
  if redis.call('HGET', KEYS[1], collection .. ':' .. field) == 'ready' then
    local set = prefix .. 'x:' .. collection .. ':' .. field
    local out = {1}
    for r = 0, n - 1 do
      local gte, lt = ARGV[j + 2 + 2 * r], ARGV[j + 3 + 2 * r]
      for _, m in ipairs(redis.call('ZRANGE', set, '[' .. gte, '(' .. lt, 'BYLEX')) do
        local at = string.find(m, '\\1', 1, true)
        out[#out + 1] = read(prefix .. 'd:' .. string.sub(m, at + 1))
      end
    end
    return out
  end
  j = j + 2 + 2 * n
end
return {0}
`;

/**
 * The part of the commit script that keeps indexes (spliced into COMMIT). `reindex(key, ix)`
 * runs before a document's hash is rewritten: `ix` is the write's entries argument (`''`: its
 * collection has no index, nothing to do).
 */
export const REINDEX = `
local function reindex(key, collection, ix)
  if ix == '' then return end
  local prefix = string.sub(key, 1, string.find(key, '}:', 1, true) + 1)
  for _, e in ipairs(cjson.decode(redis.call('HGET', key, 'ix') or '[]')) do
    redis.call('ZREM', prefix .. 'x:' .. collection .. ':' .. e[1], e[2])
  end
  return ix
end
local function addEntries(key, collection, ix)
  if ix == '' then return end
  -- the hash is rewritten in place (no DEL): a record without entries drops the old list
  if ix == '[]' then redis.call('HDEL', key, 'ix') return end
  local prefix = string.sub(key, 1, string.find(key, '}:', 1, true) + 1)
  for _, e in ipairs(cjson.decode(ix)) do
    redis.call('ZADD', prefix .. 'x:' .. collection .. ':' .. e[1], 0, e[2])
  end
  redis.call('HSET', key, 'ix', ix)
end
`;
