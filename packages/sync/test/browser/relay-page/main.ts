// The Frontend page of relay-channel.spec.ts: a replica on IndexedDB that pairs once with the
// code in the URL (?relay=ws://...&code=cse1...), then follows the Edge through the relay behind
// the encrypted channel. On a reload it finds its key and the Edge's in IndexedDB and does not
// pair again.
import { Registry, openStore } from '@cse/core';
import { IndexedDbAdapter } from '@cse/adapter-indexeddb';
import { FrontendSync, SecureFrontend, relayDial } from '@cse/sync';

interface PageState {
  status: string;
  frontendId?: string;
  edgeId?: string;
  pairedOnThisLoad: boolean;
  channelErrors: string[];
  error?: string;
  dump(): Promise<{ id: string; s: unknown; v: unknown; status: unknown; body: Record<string, unknown> }[]>;
  write(id: string, body: Record<string, unknown>): Promise<void>;
  pending(): number;
}

const w = window as unknown as { cseSync: PageState };
const params = new URL(location.href).searchParams;
const relay = params.get('relay') as string;
const code = params.get('code') as string;
const registry = new Registry();
registry.registerWorkerType('pump');
const store = openStore(new IndexedDbAdapter({ name: 'cse-secure-replica' }));
let fe: FrontendSync | undefined;
const state: PageState = {
  status: 'starting',
  pairedOnThisLoad: false,
  channelErrors: [],
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
    await fe?.saveDesired('pump', id, body);
  },
  pending: () => fe?.pending ?? -1,
};
w.cseSync = state;

async function main(): Promise<void> {
  const secure = await SecureFrontend.open({ store });
  secure.onError((e) => state.channelErrors.push(`${e.code}:${e.reason}`));
  state.frontendId = secure.frontendId;
  if (secure.pairing === undefined) {
    await secure.pair(code, relayDial(relay));
    state.pairedOnThisLoad = true;
  }
  state.edgeId = secure.pairing?.edgeId;
  fe = new FrontendSync({ store, registry, connect: secure.connector(relayDial(relay)), subscription: { workerTypes: ['pump'] }, backoff: { min: 20, max: 300 } });
  fe.onStatus((status) => {
    state.status = status;
  });
  await fe.start();
}

main().catch((e: unknown) => {
  state.error = String(e);
});
