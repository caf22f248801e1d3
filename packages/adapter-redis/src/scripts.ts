/**
 * The Lua scripts. Redis runs a script atomically, so each of them is one consistent step.
 *
 * A document is a hash: `k` collection, `i` id as a JSON string, `s` sync id, `v` version,
 * `x` "1" for a tombstone else "0", `c` created at, `u` updated at, `d` deleted at (tombstones),
 * `b` the user's fields as JSON text (live documents). Lua never decodes `b`: cjson would mangle
 * numbers, so the metadata lives beside the body and the adapter joins them in JavaScript.
 *
 * Scripts reach document hashes through members read from the index: same hash tag, same slot,
 * so this also holds on Redis Cluster.
 */

import { REINDEX } from './indexes.js';

/** Fields of a document hash in the order every script returns them. */
export const RECORD_FIELDS = ['k', 'i', 's', 'v', 'x', 'c', 'u', 'd', 'b'] as const;

const READ = `local function read(key) return redis.call('HMGET', key, ${RECORD_FIELDS.map((f) => `'${f}'`).join(', ')}) end`;

/**
 * KEYS: meta, index, collections, then per write: document hash, collection set.
 * ARGV: now, write count, then per write: kind (p/d/c), expect (''/a/e/v), expected version,
 * collection, member, id JSON, body JSON; then the change channel. A commit that wrote publishes
 * its last sync id there (PUBLISH: a channel is no key, so this is allowed on Cluster too).
 * Last the index epoch the caller computed entries for, and per write its entries (`indexes.ts`).
 * Returns `{2}` when the epoch is stale (nothing written; read the index list again),
 * `{0, index, record, ...}` for the failed preconditions (nothing written), or
 * `{1, lastSyncId, version, deleted, createdAt, ...}` with what each write saw before it.
 */
export const COMMIT = `${READ}${REINDEX}
local now, n = ARGV[1], tonumber(ARGV[2])
if (redis.call('HGET', KEYS[1], 'ixepoch') or '0') ~= ARGV[4 + 7 * n] then return {2} end
local prev, failed, writes = {}, {}, 0
for i = 1, n do
  local a = 2 + (i - 1) * 7
  local p = redis.call('HMGET', KEYS[2 + 2 * i], 'v', 'x', 'c')
  local live = p[1] ~= false and p[2] == '0'
  local expect = ARGV[a + 2]
  local ok = expect == '' or (expect == 'a' and not live) or (expect == 'e' and live)
    or (expect == 'v' and live and tonumber(p[1]) == tonumber(ARGV[a + 3]))
  if not ok then failed[#failed + 1] = i end
  if ARGV[a + 1] ~= 'c' then writes = writes + 1 end
  prev[i] = p
end
if #failed > 0 then
  local out = {0}
  for _, i in ipairs(failed) do
    out[#out + 1] = i - 1
    out[#out + 1] = read(KEYS[2 + 2 * i])
  end
  return out
end
local last = tonumber(redis.call('HGET', KEYS[1], 'last') or '0')
local out, named = {1, 0}, {}
for i = 1, n do
  local a = 2 + (i - 1) * 7
  local kind, p = ARGV[a + 1], prev[i]
  out[#out + 1] = p[1] or ''
  out[#out + 1] = p[2] or ''
  out[#out + 1] = p[3] or ''
  if kind ~= 'c' then
    last = last + 1
    local id = string.format('%d', last)
    local version = string.format('%d', (tonumber(p[1]) or 0) + 1)
    -- as core's buildRecord: a delete keeps any created-at, a put only a live document's
    local created = p[3] or now
    if kind == 'p' and p[2] ~= '0' then created = now end
    local key, member, coll = KEYS[2 + 2 * i], ARGV[a + 5], ARGV[a + 4]
    -- the entries the document held leave its indexes before the hash is rewritten
    local ix = reindex(key, coll, ARGV[4 + 7 * n + i])
    -- HSET overwrites every field but the one of the other state: only a state change removes it
    if kind == 'p' then
      if p[2] == '1' then redis.call('HDEL', key, 'd') end
      redis.call('HSET', key, 'k', coll, 'i', ARGV[a + 6], 's', id, 'v', version, 'x', '0', 'c', created, 'u', now, 'b', ARGV[a + 7])
    else
      if p[2] == '0' then redis.call('HDEL', key, 'b') end
      redis.call('HSET', key, 'k', coll, 'i', ARGV[a + 6], 's', id, 'v', version, 'x', '1', 'c', created, 'u', now, 'd', now)
    end
    if ix then addEntries(key, coll, ix) end
    redis.call('ZADD', KEYS[2], id, member)
    redis.call('ZADD', KEYS[3 + 2 * i], id, member)
    -- the set of collection names: once per collection and commit, not once per document
    if not named[coll] then
      named[coll] = true
      redis.call('SADD', KEYS[3], coll)
    end
  end
end
if writes > 0 then
  redis.call('HSET', KEYS[1], 'last', string.format('%d', last))
  redis.call('PUBLISH', ARGV[3 + 7 * n], string.format('%d', last))
end
out[2] = last
return out
`;

/** KEYS: document hashes. Returns one record (fields of RECORD_FIELDS, nil when missing) per key. */
export const GET_MANY = `${READ}
local out = {}
for i = 1, #KEYS do out[i] = read(KEYS[i]) end
return out
`;

/**
 * KEYS: meta, index, then the sets of the wanted collections (none: every collection).
 * ARGV: key prefix, after, limit. Returns `{last, compacted, record, ...}`: the counter and the
 * compaction watermark, then the records ascending by sync id, at most limit, all from the one
 * state the script ran on.
 */
export const CHANGES = `${READ}
local prefix, after, limit = ARGV[1], '(' .. ARGV[2], tonumber(ARGV[3])
local members = {}
if #KEYS == 2 then
  members = redis.call('ZRANGE', KEYS[2], after, '+inf', 'BYSCORE', 'LIMIT', 0, limit)
else
  -- each collection set is already ordered: take at most limit from each, then merge
  local found = {}
  for k = 3, #KEYS do
    local page = redis.call('ZRANGE', KEYS[k], after, '+inf', 'BYSCORE', 'LIMIT', 0, limit, 'WITHSCORES')
    for j = 1, #page, 2 do found[#found + 1] = {tonumber(page[j + 1]), page[j]} end
  end
  table.sort(found, function(x, y) return x[1] < y[1] end)
  for j = 1, math.min(limit, #found) do members[j] = found[j][2] end
end
local seq = redis.call('HMGET', KEYS[1], 'last', 'compacted')
local out = {seq[1] or '0', seq[2] or '0'}
for j = 1, #members do out[j + 2] = read(prefix .. 'd:' .. members[j]) end
return out
`;

/** KEYS: one collection set. ARGV: key prefix. Returns every record of the collection. */
export const SCAN_COLLECTION = `${READ}
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
local out = {}
for j = 1, #members do out[j] = read(ARGV[1] .. 'd:' .. members[j]) end
return out
`;

/**
 * KEYS: meta, index, collections. ARGV: key prefix, through.
 * Removes tombstones with sync id <= through, raises the watermark. Returns how many went.
 */
export const COMPACT = `
local prefix, through = ARGV[1], ARGV[2]
local removed = 0
for _, m in ipairs(redis.call('ZRANGE', KEYS[2], '-inf', through, 'BYSCORE')) do
  local key = prefix .. 'd:' .. m
  local r = redis.call('HMGET', key, 'x', 'k')
  if r[1] == '1' then
    local set = prefix .. 'z:' .. r[2]
    redis.call('DEL', key)
    redis.call('ZREM', KEYS[2], m)
    redis.call('ZREM', set, m)
    if redis.call('ZCARD', set) == 0 then redis.call('SREM', KEYS[3], r[2]) end
    removed = removed + 1
  end
end
if tonumber(through) > tonumber(redis.call('HGET', KEYS[1], 'compacted') or '0') then
  redis.call('HSET', KEYS[1], 'compacted', through)
end
return removed
`;
