// Node only (the browser project excludes *.node.test.ts): only fake-indexeddb can close a
// connection the way a browser does when the user clears site data; Chromium offers pages no way
// to trigger it.
import { afterEach, expect, it } from 'vitest';
import { isCseError } from '@cse/core';
import { IndexedDbAdapter } from '@cse/adapter-indexeddb';
import { freshName, idbFactory, rejection } from './env.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0)) await f();
});

it('throws CLOSED once the browser closed the connection itself', async () => {
    const { forceCloseDatabase } = await import('fake-indexeddb');
    // A factory that lets the test see the adapter's own connection.
    let request: IDBOpenDBRequest | undefined;
    const factory = { open: (name: string, version?: number) => (request = idbFactory().open(name, version)) } as IDBFactory;
    const adapter = new IndexedDbAdapter({ name: freshName('forced'), factory });
    cleanup.push(() => adapter.close());
    await adapter.ready();
    expect((await adapter.sequence()).lastSyncId).toBe(0);
    // fake-indexeddb types its parameter as the class, though it takes a connection.
    const connection = request?.result as IDBDatabase;
    const closed = new Promise((resolve) => connection.addEventListener('close', resolve));
    forceCloseDatabase(connection as never);
    // CLOSED at once (InvalidStateError), and with the reason once the 'close' event arrived.
    expect(isCseError(await rejection(adapter.sequence()), 'CLOSED')).toBe(true);
    await closed;
    const err = await rejection(adapter.sequence());
    expect(isCseError(err, 'CLOSED')).toBe(true);
    expect(err.message).toMatch(/browser closed/);
});
