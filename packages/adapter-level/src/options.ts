import type { AbstractLevel } from 'abstract-level';
import { ValidationError } from '@cse/core';

/** Any abstract-level database or sublevel, whatever its default encodings (the adapter passes its own on every call). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- abstract-level's generics are invariant; any database must fit.
export type LevelDatabase = AbstractLevel<any, any, any>;

/**
 * Options of `new LevelAdapter(options)`. Give exactly one of `location` and `db`.
 */
export interface LevelAdapterOptions {
  /**
   * Directory of a classic-level (LevelDB) database, created if missing. The adapter opens it
   * and closes it in `close()`. LevelDB locks the directory: one process at a time; adapters of
   * one process naming the same directory share one handle, closed by the last `close()`.
   */
  readonly location?: string;
  /**
   * An abstract-level database you opened (classic-level, memory-level, browser-level, a
   * sublevel...). The adapter opens it if needed but never closes it: that is yours to do,
   * after `adapter.close()`.
   */
  readonly db?: LevelDatabase;
  /**
   * Keeps the store in the sublevel of this name, so several stores share one database without
   * seeing each other's documents or counters. Characters `#` to `~` (ASCII, no `!`, `"` or
   * space), 1 to 64 of them. Default: none, the store uses the database's own key space.
   */
  readonly namespace?: string;
  /**
   * Passed to every write batch (`batch(ops, { sync })`). `true` (the default) asks LevelDB to
   * fsync its log before the commit resolves: an acknowledged commit survives power loss, at
   * the cost of one fsync per commit. With `false` the log write still reaches the operating
   * system before the commit resolves, so a killed process loses nothing, but an OS crash or
   * power cut can lose the last commits (never half of one). Only classic-level uses it.
   */
  readonly sync?: boolean;
  /**
   * What to do with a store found damaged at open (LevelDB recovery dropped corrupt bytes of
   * its write-ahead log, or the counter is above every record: committed changes are gone).
   * `false` (the default): the open fails with a `CORRUPT` `CseError` saying what was lost,
   * every time, until the store is repaired. `true`: accept the loss and open; the counter and
   * the compaction watermark move above every id that may have been handed out, so no id is
   * ever reused and every reader whose cursor could have seen a lost change must reset
   * (`RESET_REQUIRED`) and rebuild.
   */
  readonly repair?: boolean;
}

const NAMESPACE = /^[\x23-\x7e]{1,64}$/;

/** Throws `VALIDATION` unless the options name one database and a usable namespace. */
export function checkOptions(options: LevelAdapterOptions): void {
  if (options === null || typeof options !== 'object') throw new ValidationError('LevelAdapter needs an options object');
  const { location, db, namespace, sync } = options;
  if ((location === undefined) === (db === undefined)) {
    throw new ValidationError('LevelAdapter needs exactly one of `location` (a directory) and `db` (an abstract-level database)');
  }
  if (location !== undefined && (typeof location !== 'string' || location.length === 0)) {
    throw new ValidationError('LevelAdapter `location` must be a non-empty directory path');
  }
  if (db !== undefined && (db === null || typeof db !== 'object' || typeof db.batch !== 'function' || typeof db.iterator !== 'function')) {
    throw new ValidationError('LevelAdapter `db` must be an abstract-level database');
  }
  if (namespace !== undefined && (typeof namespace !== 'string' || !NAMESPACE.test(namespace))) {
    throw new ValidationError(`invalid namespace ${JSON.stringify(namespace)}: use 1-64 ASCII characters from "#" to "~"`);
  }
  if (sync !== undefined && typeof sync !== 'boolean') throw new ValidationError('LevelAdapter `sync` must be a boolean');
  if (options.repair !== undefined && typeof options.repair !== 'boolean') throw new ValidationError('LevelAdapter `repair` must be a boolean');
}
