// The adapter table: how the bench opens each adapter and its raw baseline, at one durability
// setting for both. Every workload runs against every entry the same way.
import { join } from 'node:path';

/**
 * Each entry:
 * - `setup(env)`: once per suite process (start a server, install globals); returns facts for the report.
 * - `adapter(name, env)`: a fresh StorageAdapter for the store called `name`.
 * - `baseline(name, env)`: the raw-library target for the store called `name`.
 * - `multiProcess`: W6 runs separate processes (else several writers in this process).
 * - `durability`: what both sides use, in words.
 * - `liveChanges`: W7 measures its change feed (the others report n/a).
 * - `drop(name, env)` (optional): frees the store `name` of both sides after a workload.
 */
/** The Level adapter against raw classic-level, with or without an fsync per commit on both sides. */
function levelEntry(sync) {
  return {
    liveChanges: sync,
    ...(sync ? {} : { liveChangesReason: 'n/a: W7 runs on level (sync)' }),
    package: '@cse/adapter-level',
    durability: sync ? 'classic-level, batch sync: true (adapter default: fsync per commit)' : 'classic-level, batch sync: false (no fsync per commit; both sides)',
    multiProcess: false,
    singleProcessReason: 'n/a: single process (LevelDB locks its directory)',
    async setup() {
      return {};
    },
    async adapter(name, env) {
      const { LevelAdapter } = await import('@cse/adapter-level');
      const adapter = new LevelAdapter({ location: join(env.dir, `${name}.cse.level`), sync });
      await adapter.ready();
      return adapter;
    },
    async baseline(name, env) {
      const { levelBaseline } = await import('./baselines/level.js');
      return levelBaseline({ location: join(env.dir, `${name}.raw.level`), sync });
    },
  };
}

export const ADAPTERS = {
  memory: {
    liveChanges: true,
    package: '@cse/core',
    durability: 'none: process memory',
    multiProcess: false,
    singleProcessReason: 'n/a: single process (memory)',
    async setup() {
      return {};
    },
    async adapter() {
      const { MemoryAdapter } = await import('@cse/core');
      return new MemoryAdapter();
    },
    async baseline() {
      const { memoryBaseline } = await import('./baselines/memory.js');
      return memoryBaseline();
    },
  },
  sqlite: {
    liveChanges: true,
    package: '@cse/adapter-sqlite',
    durability: 'WAL, synchronous=FULL (adapter default)',
    multiProcess: true,
    async setup() {
      const { default: Database } = await import('better-sqlite3');
      const db = new Database(':memory:');
      const version = db.prepare('SELECT sqlite_version()').pluck().get();
      db.close();
      return { sqliteVersion: version };
    },
    async adapter(name, env) {
      const { SqliteAdapter } = await import('@cse/adapter-sqlite');
      return new SqliteAdapter({ path: join(env.dir, `${name}.cse.db`), synchronous: 'FULL' });
    },
    async baseline(name, env) {
      const { sqliteBaseline } = await import('./baselines/sqlite.js');
      return sqliteBaseline({ path: join(env.dir, `${name}.raw.db`), synchronous: 'FULL' });
    },
  },
  // The same adapter at the no-fsync setting, where CSE's own CPU shows (both sides alike).
  'sqlite-normal': {
    liveChanges: false,
    liveChangesReason: 'n/a: W7 runs on sqlite (FULL)',
    package: '@cse/adapter-sqlite',
    durability: 'WAL, synchronous=NORMAL (no fsync per commit; both sides)',
    multiProcess: true,
    async setup() {
      return {};
    },
    async adapter(name, env) {
      const { SqliteAdapter } = await import('@cse/adapter-sqlite');
      return new SqliteAdapter({ path: join(env.dir, `${name}.cse.db`), synchronous: 'NORMAL' });
    },
    async baseline(name, env) {
      const { sqliteBaseline } = await import('./baselines/sqlite.js');
      return sqliteBaseline({ path: join(env.dir, `${name}.raw.db`), synchronous: 'NORMAL' });
    },
  },
  level: levelEntry(true),
  'level-nosync': levelEntry(false),
  redis: {
    liveChanges: true,
    package: '@cse/adapter-redis',
    durability: 'set by --redis-persistence (both sides share the server)',
    multiProcess: true,
    async setup(env) {
      const { startRedis } = await import('./lib/redis-server.js');
      env.redis = await startRedis(env.dir, env.options.redisPersistence);
      env.cleanup.push(() => env.redis.stop());
      env.redisUrl = env.redis.url;
      return { redisVersion: env.redis.version, redisPersistence: env.redis.persistence, redisPid: env.redis.pid };
    },
    async adapter(name, env) {
      const { RedisAdapter } = await import('@cse/adapter-redis');
      return new RedisAdapter({ url: env.redisUrl, namespace: name });
    },
    async baseline(name, env) {
      const { redisBaseline } = await import('./baselines/redis.js');
      return redisBaseline({ url: env.redisUrl, namespace: name });
    },
  },
  indexeddb: {
    package: '@cse/adapter-indexeddb',
    durability: "fake-indexeddb in Node (memory), durability hint 'default'",
    multiProcess: false,
    singleProcessReason: 'n/a: single process (fake-indexeddb lives in one process)',
    async setup() {
      await import('fake-indexeddb/auto');
      return {};
    },
    async adapter(name) {
      const { IndexedDbAdapter } = await import('@cse/adapter-indexeddb');
      const adapter = new IndexedDbAdapter({ name: `${name}-cse` });
      await adapter.ready();
      return adapter;
    },
    async baseline(name) {
      const { indexedDbBaseline } = await import('./baselines/indexeddb.js');
      return indexedDbBaseline({ name: `${name}-raw` });
    },
    // fake-indexeddb keeps every database in this process's heap until it is deleted.
    async drop(name) {
      const { deleteDB } = await import('idb');
      await Promise.all([deleteDB(`${name}-cse`), deleteDB(`${name}-raw`)]);
    },
  },
  // The same workloads in real headless Chromium on its on-disk IndexedDB: its own suite
  // process (lib/browser-suite.js), which drives a page; W1-W5 only.
  'indexeddb-chromium': {
    suite: 'browser-suite.js',
    package: '@cse/adapter-indexeddb',
    durability: "Chromium's on-disk IndexedDB, durability hint 'default' (both sides)",
  },
};

/** Opens one side ('cse' or 'raw') of `entry` on the store called `name`. */
export async function openSide(entry, side, name, env) {
  if (side === 'raw') return entry.baseline(name, env);
  const { cseTarget } = await import('./lib/cse-target.js');
  return cseTarget(await entry.adapter(name, env));
}
