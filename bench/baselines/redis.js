// Raw ioredis, as a user would write it by hand: a hash per document (metadata fields beside
// the JSON body, since Lua's cjson would mangle numbers), a sorted set by sync id, a counter;
// every write one Lua script (defineCommand: EVALSHA). Same server, so same persistence.
import { Redis } from 'ioredis';

const SAVE_NEW = `
if redis.call('EXISTS', KEYS[2]) == 1 then return redis.error_reply('exists') end
local s = redis.call('HINCRBY', KEYS[1], 'last', 1)
redis.call('HSET', KEYS[2], 's', s, 'v', 1, 'c', ARGV[2], 'u', ARGV[2], 'b', ARGV[3])
redis.call('ZADD', KEYS[3], s, ARGV[1])
return s`;

const UPDATE = `
local cur = redis.call('HMGET', KEYS[2], 'v', 'c')
if cur[1] ~= ARGV[4] then return redis.error_reply('conflict') end
local s = redis.call('HINCRBY', KEYS[1], 'last', 1)
redis.call('HSET', KEYS[2], 's', s, 'v', tonumber(ARGV[4]) + 1, 'u', ARGV[2], 'b', ARGV[3])
redis.call('ZADD', KEYS[3], s, ARGV[1])
return {s, cur[2]}`;

const INSERT_MANY = `
local prefix, now = ARGV[1], ARGV[2]
for j = 3, #ARGV, 2 do
  if redis.call('EXISTS', prefix .. 'd:' .. ARGV[j]) == 1 then return redis.error_reply('exists') end
end
local s = redis.call('HINCRBY', KEYS[1], 'last', (#ARGV - 2) / 2) - (#ARGV - 2) / 2
for j = 3, #ARGV, 2 do
  s = s + 1
  redis.call('HSET', prefix .. 'd:' .. ARGV[j], 's', s, 'v', 1, 'c', now, 'u', now, 'b', ARGV[j + 1])
  redis.call('ZADD', KEYS[2], s, ARGV[j])
end
return s`;

const PAGE = `
local members = redis.call('ZRANGE', KEYS[1], '(' .. ARGV[2], '+inf', 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for j = 1, #members do
  out[j] = redis.call('HMGET', ARGV[1] .. 'd:' .. members[j], 's', 'v', 'c', 'u', 'b')
  table.insert(out[j], members[j])
end
return out`;

export async function redisBaseline({ url, namespace }) {
  const client = new Redis(url, { maxRetriesPerRequest: 0 });
  client.defineCommand('saveNew', { numberOfKeys: 3, lua: SAVE_NEW });
  client.defineCommand('updateVersion', { numberOfKeys: 3, lua: UPDATE });
  client.defineCommand('insertMany', { numberOfKeys: 2, lua: INSERT_MANY });
  client.defineCommand('page', { numberOfKeys: 1, lua: PAGE });
  const prefix = `raw:{${namespace}}:`;
  const counter = `${prefix}counter`;
  const index = `${prefix}index`;
  const insertMany = (docs) => {
    const args = [];
    for (const d of docs) args.push(d.id, JSON.stringify(d));
    return client.insertMany(counter, index, prefix, new Date().toISOString(), ...args);
  };

  return {
    side: 'raw',
    async saveNew(id, body) {
      const now = new Date().toISOString();
      const s = await client.saveNew(counter, `${prefix}d:${id}`, index, id, now, JSON.stringify(body));
      const doc = { ...body, id, _sync_id: s, _version: 1, _created_at: now, _updated_at: now };
      return doc._version;
    },
    async update(id, body, expected) {
      const now = new Date().toISOString();
      const [s, created] = await client.updateVersion(counter, `${prefix}d:${id}`, index, id, now, JSON.stringify(body), String(expected));
      const doc = { ...body, id, _sync_id: s, _version: expected + 1, _created_at: created, _updated_at: now };
      return doc._version;
    },
    async insertBatch(docs) {
      await insertMany(docs);
    },
    async changes(after, limit) {
      const rows = await client.page(index, prefix, String(after), String(limit));
      const docs = rows.map(([s, v, c, u, b, id]) => ({ ...JSON.parse(b), id, _sync_id: Number(s), _version: Number(v), _created_at: c, _updated_at: u }));
      const tail = docs[docs.length - 1];
      return { cursor: tail ? tail._sync_id : after, count: docs.length, hasMore: docs.length === limit };
    },
    async seed(docs) {
      for (let i = 0; i < docs.length; i += 1000) await insertMany(docs.slice(i, i + 1000));
    },
    async lastSyncId() {
      return Number((await client.hget(counter, 'last')) ?? 0);
    },
    async close() {
      await client.quit();
    },
  };
}
