import type { Database } from 'better-sqlite3';
import { ValidationError } from '@cse/core';

/**
 * How the adapter syncs the write-ahead log to disk (`PRAGMA synchronous`).
 *
 * - `FULL` (default): every commit is fsynced before it is acknowledged. An acknowledged commit
 *   survives a process kill and a power loss.
 * - `NORMAL`: the WAL is fsynced only at checkpoints. An acknowledged commit survives a process
 *   kill; a power loss may roll back the most recent commits (never half of one), and the
 *   counter with them, so their sync ids are handed out again.
 */
export type Synchronous = 'FULL' | 'NORMAL';

/** Default `busyTimeout`: how long a commit waits for another connection's write lock. */
export const DEFAULT_BUSY_TIMEOUT_MS = 5000;

/** Default `watchIntervalMs`: how often a watched store checks for commits of other connections. */
export const DEFAULT_WATCH_INTERVAL_MS = 10;

interface CommonOptions {
  /** `PRAGMA synchronous`. Default `'FULL'`. */
  readonly synchronous?: Synchronous;
  /**
   * Milliseconds a statement waits for a lock held by another connection before it fails with
   * `SQLITE_BUSY` (a `BACKEND` error). Default 5000.
   */
  readonly busyTimeout?: number;
  /**
   * While someone watches (`Store.watch`), how often the adapter reads the counter row to see
   * commits of other processes and connections on the file, in ms. Commits of this adapter wake
   * watchers at once. Default 10, from 1 to 60 000.
   */
  readonly watchIntervalMs?: number;
  /**
   * Group commit: commits called while the adapter is busy (concurrent writers) share one
   * transaction, so one fsync at `FULL`; each keeps its own preconditions and outcome, and a
   * CONFLICT or error of one never fails the others. Default true; false commits each alone.
   */
  readonly groupCommit?: boolean;
}

/** Open (or create) the database file at `path`. The adapter closes it on `close()`. */
export interface SqlitePathOptions extends CommonOptions {
  /** File path, or `':memory:'` for a private, non-persistent database. */
  readonly path: string;
  readonly database?: undefined;
}

/**
 * Use a better-sqlite3 `Database` the caller opened. The adapter sets its pragmas (WAL,
 * `synchronous`, `busy_timeout`) and creates its tables, but never closes it: the caller does,
 * after `adapter.close()`.
 */
export interface SqliteDatabaseOptions extends CommonOptions {
  readonly database: Database;
  readonly path?: undefined;
}

export type SqliteAdapterOptions = SqlitePathOptions | SqliteDatabaseOptions;

const SYNCHRONOUS: readonly string[] = ['FULL', 'NORMAL'];

/** Options after validation, defaults filled. */
export interface ResolvedOptions {
  readonly path: string | undefined;
  readonly database: Database | undefined;
  readonly synchronous: Synchronous;
  readonly busyTimeout: number;
  readonly watchIntervalMs: number;
  readonly groupCommit: boolean;
}

/** Validates `options` and fills defaults; throws `VALIDATION` for anything wrong. */
export function resolveOptions(options: SqliteAdapterOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new ValidationError('SqliteAdapter needs an options object: { path } or { database }');
  }
  const { path, database } = options;
  if ((path === undefined) === (database === undefined)) {
    throw new ValidationError('SqliteAdapter needs exactly one of `path` and `database`');
  }
  if (path !== undefined && (typeof path !== 'string' || path.length === 0)) {
    throw new ValidationError('SqliteAdapter `path` must be a non-empty string');
  }
  if (database !== undefined && (typeof database !== 'object' || database === null || typeof database.prepare !== 'function')) {
    throw new ValidationError('SqliteAdapter `database` must be a better-sqlite3 Database');
  }
  const synchronous = options.synchronous ?? 'FULL';
  if (!SYNCHRONOUS.includes(synchronous)) {
    throw new ValidationError(`SqliteAdapter \`synchronous\` must be one of ${SYNCHRONOUS.join(', ')}, got ${JSON.stringify(synchronous)}`);
  }
  const busyTimeout = options.busyTimeout ?? DEFAULT_BUSY_TIMEOUT_MS;
  if (!Number.isSafeInteger(busyTimeout) || busyTimeout < 0) {
    throw new ValidationError(`SqliteAdapter \`busyTimeout\` must be a non-negative integer (ms), got ${String(busyTimeout)}`);
  }
  const watchIntervalMs = options.watchIntervalMs ?? DEFAULT_WATCH_INTERVAL_MS;
  if (!Number.isSafeInteger(watchIntervalMs) || watchIntervalMs < 1 || watchIntervalMs > 60_000) {
    throw new ValidationError(`SqliteAdapter \`watchIntervalMs\` must be an integer from 1 to 60000 (ms), got ${String(watchIntervalMs)}`);
  }
  const groupCommit = options.groupCommit ?? true;
  if (typeof groupCommit !== 'boolean') {
    throw new ValidationError(`SqliteAdapter \`groupCommit\` must be true or false, got ${JSON.stringify(groupCommit)}`);
  }
  return { path, database, synchronous, busyTimeout, watchIntervalMs, groupCommit };
}
