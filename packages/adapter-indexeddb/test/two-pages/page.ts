// The page of two-pages.node.test.ts, bundled by esbuild: one Store on the page's real IndexedDB.
import { openStore } from '@cse/core';
import type { Store } from '@cse/core';
import { IndexedDbAdapter } from '@cse/adapter-indexeddb';

let store: Store | undefined;
const seen: string[] = [];

const api = {
  seen,
  async open(name: string): Promise<void> {
    const adapter = new IndexedDbAdapter({ name });
    await adapter.ready();
    // A poll this slow never fires during the test: only the change feed can wake the watcher.
    store = openStore(adapter, { pollIntervalMs: 60_000 });
  },
  watch(): void {
    store?.onChanges(0, (page) => {
      for (const c of page.changes) seen.push(c.id);
    });
  },
  async write(id: string): Promise<void> {
    await store?.insert('c', { id });
  },
};

(globalThis as { cse?: typeof api }).cse = api;
