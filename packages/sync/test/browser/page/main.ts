// The Frontend page of reload.spec.ts: a replica on IndexedDB following the Edge named in the
// URL (?edge=ws://...). It starts on load, so a reload resumes from whatever IndexedDB holds.
import { Registry, openStore } from '@cse/core';
import { IndexedDbAdapter } from '@cse/adapter-indexeddb';
import { FrontendSync, webSocketConnector } from '@cse/sync';

interface PageSync {
  status: string;
  applied: number;
  cursor: number;
  head: number;
  /** The cursors loaded from IndexedDB at start, before anything arrived on this page load. */
  startCursors: Record<string, number>;
  error?: string;
  dump(): Promise<{ id: string; s: unknown; v: unknown; status: unknown; body: Record<string, unknown> }[]>;
}

const w = window as unknown as { cseSync: PageSync };
const edge = new URL(location.href).searchParams.get('edge') as string;
const registry = new Registry();
registry.registerWorkerType('pump');
const store = openStore(new IndexedDbAdapter({ name: 'cse-sync-replica' }));
const fe = new FrontendSync({ store, registry, connect: webSocketConnector(edge), subscription: { workerTypes: ['pump'] }, backoff: { min: 20, max: 200 } });
const state: PageSync = {
  status: 'starting',
  applied: 0,
  cursor: 0,
  head: 0,
  startCursors: {},
  async dump() {
    const out = [];
    for (const c of fe.collections) {
      for (const d of await store.find(c)) {
        out.push({ id: `${c}:${d.id}`, s: d._edge_sync_id, v: d._edge_version, status: d._sync_status, body: Object.fromEntries(Object.entries(d).filter(([k]) => !k.startsWith('_'))) });
      }
    }
    return out;
  },
};
w.cseSync = state;
fe.onStatus((status, p) => {
  state.status = status;
  state.applied = p.applied;
  state.cursor = p.cursor;
  state.head = p.head;
});
fe.start().then(
  () => {
    state.startCursors = { ...fe.cursors };
  },
  (e: unknown) => {
    state.error = String(e);
  },
);
