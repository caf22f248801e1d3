import type { StorageAdapter } from './adapter.js';
import { ValidationError, isCseError, toBackendError } from './errors.js';
import { MemoryAdapter } from './memory-adapter.js';
import type { StoreOptions } from './store.js';
import { Store } from './store.js';

/** URL schemes `openStore` understands, and the package that serves each. */
export const ADAPTER_PACKAGES: Readonly<Record<string, string>> = Object.freeze({
  'sqlite:': '@cse/adapter-sqlite',
  'level:': '@cse/adapter-level',
  'redis:': '@cse/adapter-redis',
  'rediss:': '@cse/adapter-redis',
  'indexeddb:': '@cse/adapter-indexeddb',
});

/** What an adapter package exports so `openStore(url)` can load it. */
export interface AdapterModule {
  createAdapterFromUrl(url: string): StorageAdapter | Promise<StorageAdapter>;
}

const registered = new Map<string, AdapterModule>();

/**
 * Makes `openStore(url)` use `module` for URLs of `scheme` (e.g. `'indexeddb:'`) instead of
 * loading the package by name. Needed in browsers and bundles, which cannot import a package
 * whose name is computed at run time:
 *
 * ```ts
 * import * as idb from '@cse/adapter-indexeddb';
 * registerAdapterModule('indexeddb:', idb);
 * const store = await openStore('indexeddb:cse');
 * ```
 *
 * @throws `VALIDATION` for a malformed scheme or a module without `createAdapterFromUrl`.
 */
export function registerAdapterModule(scheme: string, module: AdapterModule): void {
  if (typeof scheme !== 'string' || !/^[a-z][a-z0-9+.-]*:$/.test(scheme)) {
    throw new ValidationError(`a scheme looks like "indexeddb:", got ${JSON.stringify(scheme)}`);
  }
  if (module === null || typeof module !== 'object' || typeof module.createAdapterFromUrl !== 'function') {
    throw new ValidationError('the module must export createAdapterFromUrl(url)');
  }
  registered.set(scheme, module);
}

/**
 * Opens a Store.
 *
 * - `openStore(adapter)` wraps an adapter you built (synchronously).
 * - `openStore(url)` picks the adapter from the URL and loads its package if it is installed:
 *   `sqlite:./edge.db`, `level:./data`, `redis://127.0.0.1:6379/?namespace=plant-a`,
 *   `indexeddb:cse`, `memory:`. A missing package is a `VALIDATION` error naming it.
 */
export function openStore(adapter: StorageAdapter, options?: StoreOptions): Store;
export function openStore(url: string, options?: StoreOptions): Promise<Store>;
export function openStore(target: StorageAdapter | string, options: StoreOptions = {}): Store | Promise<Store> {
  if (typeof target !== 'string') {
    if (target === null || typeof target !== 'object' || typeof (target as StorageAdapter).commit !== 'function') {
      throw new ValidationError('openStore needs a StorageAdapter or a URL string');
    }
    return new Store(target, options);
  }
  return openUrl(target, options);
}

async function openUrl(url: string, options: StoreOptions): Promise<Store> {
  const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(url)?.[0]?.toLowerCase();
  if (scheme === undefined) throw new ValidationError(`${JSON.stringify(url)} is not a store URL (try sqlite:./edge.db or memory:)`);
  if (scheme === 'memory:') return new Store(new MemoryAdapter(), options);
  const known = registered.get(scheme);
  if (known !== undefined) return open(known, url, options);
  const pkg = ADAPTER_PACKAGES[scheme];
  if (pkg === undefined) {
    throw new ValidationError(`no adapter for ${scheme} URLs; known: memory:, ${Object.keys(ADAPTER_PACKAGES).join(', ')}`);
  }
  let mod: AdapterModule;
  try {
    mod = (await import(/* @vite-ignore */ pkg)) as AdapterModule;
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new ValidationError(`${scheme} URLs need the package ${pkg}: run npm install ${pkg}`, { cause: e });
    }
    throw toBackendError(e, `loading ${pkg} failed`);
  }
  return open(mod, url, options);
}

async function open(mod: AdapterModule, url: string, options: StoreOptions): Promise<Store> {
  try {
    return new Store(await mod.createAdapterFromUrl(url), options);
  } catch (e) {
    if (isCseError(e)) throw e;
    throw toBackendError(e, `opening ${url} failed`);
  }
}
