import { resolve } from 'node:path';
import { ClassicLevel } from 'classic-level';

/**
 * classic-level databases opened from a `location`, one per directory in this process.
 *
 * LevelDB locks its directory, even against a second open in the same process. Adapters of one
 * process that name the same directory therefore share one `ClassicLevel` (and so one commit
 * lock), counted by reference: the last `release()` closes it. Other processes still find the
 * directory locked.
 */

interface Entry {
  readonly db: ClassicLevel<string, string>;
  refs: number;
  /** Settles once no close of `db` is pending; a new user reopens only after it. */
  idle: Promise<void>;
}

const entries = new Map<string, Entry>();

export interface SharedDirectory {
  readonly db: ClassicLevel<string, string>;
  /** Resolves once the database is open for this user. */
  readonly ready: Promise<void>;
  /** Gives this use back; closes the database when it was the last. Idempotent. */
  release(): Promise<void>;
}

export function acquireDirectory(location: string): SharedDirectory {
  const key = resolve(location);
  let entry = entries.get(key);
  if (entry === undefined) {
    entry = { db: new ClassicLevel<string, string>(key, { keyEncoding: 'utf8', valueEncoding: 'utf8' }), refs: 0, idle: Promise.resolve() };
    entries.set(key, entry);
  }
  const e = entry;
  e.refs += 1;
  let released: Promise<void> | undefined;
  return {
    db: e.db,
    ready: e.idle.then(() => e.db.open()),
    release: () =>
      (released ??= (async () => {
        e.refs -= 1;
        if (e.refs > 0) return;
        const closing = e.db.close();
        e.idle = closing.then(
          () => undefined,
          () => undefined,
        );
        try {
          await closing;
        } finally {
          if (e.refs === 0 && entries.get(key) === e) entries.delete(key);
        }
      })()),
  };
}
