import type { ClassicLevel } from 'classic-level';
import { ValidationError } from '@cse/core';

/**
 * classic-level databases opened from a `location`, one per directory in this process.
 *
 * LevelDB locks its directory, even against a second open in the same process. Adapters of one
 * process that name the same directory therefore share one `ClassicLevel` (and so one commit
 * lock), counted by reference: the last `release()` closes it. Other processes still find the
 * directory locked.
 *
 * classic-level and `node:path` are loaded only here, when a `location` is used, and through
 * specifiers bundlers leave alone: the package entry then bundles for browsers (browser-level,
 * memory-level passed as `db`) without Node built-ins or a native addon.
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

const CLASSIC_LEVEL = 'classic-level';
const NODE_PATH = 'node:path';

type Modules = [{ ClassicLevel: typeof ClassicLevel }, { resolve: (...paths: string[]) => string }];
let modules: Promise<Modules> | undefined;

function load(): Promise<Modules> {
  modules ??= Promise.all([
    import(/* @vite-ignore */ CLASSIC_LEVEL) as Promise<Modules[0]>,
    import(/* @vite-ignore */ NODE_PATH) as Promise<Modules[1]>,
  ]).catch((e: unknown) => {
    modules = undefined;
    throw new ValidationError(
      'LevelAdapter `location` needs classic-level on Node (npm install classic-level); elsewhere (a browser) pass an abstract-level database as `db`, e.g. browser-level',
      { cause: e },
    );
  });
  return modules;
}

export async function acquireDirectory(location: string): Promise<SharedDirectory> {
  const [{ ClassicLevel: Classic }, { resolve }] = await load();
  const key = resolve(location);
  let entry = entries.get(key);
  if (entry === undefined) {
    entry = { db: new Classic<string, string>(key, { keyEncoding: 'utf8', valueEncoding: 'utf8' }), refs: 0, idle: Promise.resolve() };
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
