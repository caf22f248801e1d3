import { IndexedDbAdapter } from '@cse/adapter-indexeddb';

/** True in the Chromium project, false in the Node (fake-indexeddb) project. */
export const inBrowser = typeof window !== 'undefined';

/** The IndexedDB of this environment: real in Chromium, fake-indexeddb's in Node (test/setup-node.ts). */
export function idbFactory(): IDBFactory {
  return globalThis.indexedDB;
}

const runPrefix = `cse-test-${crypto.randomUUID().slice(0, 8)}`;

/** A database name for `storeName`, unique to this test run (browser profiles may be reused). */
export function dbName(storeName: string): string {
  return `${runPrefix}-${storeName}`;
}

/** A database name no other test uses. */
export function freshName(label = 'db'): string {
  return dbName(`${label}-${crypto.randomUUID()}`);
}

/** Opens (or reopens) an adapter and waits until its connection is up. */
export async function openAdapter(name: string): Promise<IndexedDbAdapter> {
  const adapter = new IndexedDbAdapter({ name, factory: idbFactory() });
  await adapter.ready();
  return adapter;
}

/** Opens the database with plain IndexedDB, e.g. to act as another tab with newer code. */
export function rawOpen(name: string, version?: number, upgrade?: (db: IDBDatabase) => void): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = idbFactory().open(name, version);
    if (upgrade) request.addEventListener('upgradeneeded', () => upgrade(request.result));
    request.addEventListener('success', () => resolve(request.result));
    request.addEventListener('error', () => reject(request.error ?? new Error('open failed')));
  });
}

/** Resolves to the error `p` rejects with; fails the test if it resolves. */
export async function rejection(p: Promise<unknown>): Promise<Error & { code?: string; cause?: unknown }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected the promise to reject, but it resolved');
}
