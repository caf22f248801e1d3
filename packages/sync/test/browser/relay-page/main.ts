// The Frontend page of relay.spec.ts: a replica on IndexedDB following an Edge through a
// cse-relay (?relay=ws://...&code=cse1...), over the encrypted channel. It pairs with the code
// on first load (the pairing is kept in IndexedDB), then syncs, and makes Desired writes when
// the test asks (window.cseRelay.write).
import { Registry, openStore } from '@cse/core';
import { IndexedDbAdapter } from '@cse/adapter-indexeddb';
import { FrontendSync, SecureFrontend, relayConnector } from '@cse/sync';
import type { RelayAccess } from '@cse/sync';

interface PageState {
  status: string;
  error?: string;
  frontendId?: string;
  dump(): Promise<{ id: string; s: unknown; v: unknown; status: unknown; body: Record<string, unknown> }[]>;
  write(id: string, body: Record<string, unknown>): Promise<string>;
}

const params = new URL(location.href).searchParams;
const relay = params.get('relay') as string;
const code = params.get('code') as string;
const registry = new Registry();
registry.registerWorkerType('pump');
const store = openStore(new IndexedDbAdapter({ name: 'cse-relay-replica' }));
let fe: FrontendSync | undefined;
const state: PageState = {
  status: 'starting',
  async dump() {
    const out = [];
    for (const c of fe?.collections ?? []) {
      for (const d of await store.find(c)) {
        out.push({ id: `${c}:${d.id}`, s: d._edge_sync_id, v: d._edge_version, status: d._sync_status, body: Object.fromEntries(Object.entries(d).filter(([k]) => !k.startsWith('_'))) });
      }
    }
    return out;
  },
  async write(id, body) {
    const doc = await (fe as FrontendSync).saveDesired('pump', id, body);
    return String(doc._sync_status);
  },
};
(window as unknown as { cseRelay: PageState }).cseRelay = state;

async function main(): Promise<void> {
  const secure = await SecureFrontend.open({ store });
  state.frontendId = secure.frontendId;
  const dial = (a: RelayAccess) => relayConnector({ url: relay, ...a })(); // the browser's WebSocket
  if (secure.pairing === undefined) await secure.pair(code, dial);
  fe = new FrontendSync({ store, registry, connect: secure.connector(dial), subscription: { workerTypes: ['pump'] }, backoff: { min: 20, max: 200 } });
  fe.onStatus((status) => {
    state.status = status;
  });
  await fe.start();
}
main().catch((e: unknown) => {
  state.error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
});
