import { ValidationError } from '@cse/core';

/**
 * Options of `new IndexedDbAdapter(options)`.
 *
 * - `name` (required): the IndexedDB database name, which is the store's namespace. Two
 *   adapters with different names never see each other's documents or counters.
 * - `factory` (default `globalThis.indexedDB`): the `IDBFactory` to open the database with,
 *   for environments without a global one or for an isolated factory (fake-indexeddb's
 *   `new IDBFactory()` in Node). idb needs the IndexedDB classes (`IDBRequest`, `IDBKeyRange`,
 *   ...) as globals: in Node, `import 'fake-indexeddb/auto'` installs them.
 * - `durability` (default `'default'`, the browser's own choice): the durability hint of every
 *   commit transaction. `'strict'` asks the browser to flush to disk before a commit resolves;
 *   `'relaxed'` resolves once the OS has the data. See the README's Durability section.
 */
export interface IndexedDbAdapterOptions {
  readonly name: string;
  readonly factory?: IDBFactory;
  readonly durability?: IDBTransactionDurability;
}

const DURABILITIES: readonly string[] = ['default', 'strict', 'relaxed'];

/** Checks options and fills defaults; throws `VALIDATION` on bad input, before anything is opened. */
export function resolveOptions(options: IndexedDbAdapterOptions): Required<IndexedDbAdapterOptions> {
  if (options === null || typeof options !== 'object') {
    throw new ValidationError('IndexedDbAdapter needs options: { name }');
  }
  const { name, factory = globalThis.indexedDB, durability = 'default' } = options;
  if (typeof name !== 'string' || name.length === 0) {
    throw new ValidationError(`IndexedDbAdapter: name must be a non-empty string, got ${JSON.stringify(name)}`);
  }
  if (factory === undefined || typeof factory.open !== 'function') {
    throw new ValidationError(
      'IndexedDbAdapter: no IndexedDB here; pass options.factory (in Node: import "fake-indexeddb/auto")',
    );
  }
  if (typeof globalThis.IDBRequest === 'undefined' || typeof globalThis.IDBKeyRange === 'undefined') {
    throw new ValidationError('IndexedDbAdapter: the IndexedDB classes must be globals (in Node: import "fake-indexeddb/auto")');
  }
  if (!DURABILITIES.includes(durability)) {
    throw new ValidationError(`IndexedDbAdapter: durability must be one of ${DURABILITIES.join(', ')}, got ${JSON.stringify(durability)}`);
  }
  return { name, factory, durability };
}

/**
 * Parses `indexeddb:<name>` (also `indexeddb://<name>`), with an optional
 * `?durability=strict|relaxed|default`. The name is percent-decoded.
 */
export function optionsFromUrl(url: string): IndexedDbAdapterOptions {
  const match = /^indexeddb:(?:\/\/)?([^?#]*)(?:\?([^#]*))?$/i.exec(url);
  if (match === null) throw new ValidationError(`${JSON.stringify(url)} is not an indexeddb: URL (try indexeddb:cse)`);
  let name: string;
  try {
    name = decodeURIComponent(match[1] ?? '');
  } catch (e) {
    throw new ValidationError(`${JSON.stringify(url)}: the database name is not valid percent-encoding`, { cause: e });
  }
  if (name.length === 0) throw new ValidationError(`${JSON.stringify(url)} names no database (try indexeddb:cse)`);
  const params = new URLSearchParams(match[2] ?? '');
  for (const key of params.keys()) {
    if (key !== 'durability') throw new ValidationError(`${JSON.stringify(url)}: unknown parameter ${JSON.stringify(key)}`);
  }
  const durability = params.get('durability');
  if (durability === null) return { name };
  return { name, durability: durability as IDBTransactionDurability };
}
