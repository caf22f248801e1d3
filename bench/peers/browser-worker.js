// P1's client side in Chromium, in a dedicated worker of the page (as L1 runs CSE), bundled by
// lib/peers-chromium.js: PouchDB's idb adapter (pouchdb-browser), RxDB on Dexie (IndexedDB),
// CSE on IndexedDbAdapter. Messages { id, op, args } answer { id, ok, value | error }.
import PouchDB from 'pouchdb-browser';
import { createRxDatabase } from 'rxdb';
import { getRxStorageDexie } from 'rxdb/plugins/storage-dexie';
import { replicateWithWebsocketServer } from 'rxdb/plugins/replication-websocket';
import { deleteDB } from 'idb';
import { Registry, openStore } from '@cse/core';
import { IndexedDbAdapter } from '@cse/adapter-indexeddb';
import { FrontendSync, webSocketConnector } from '@cse/sync';
import { follow, load, now, upload } from './clients.js';

const env = {
  PouchDB,
  pouchOptions: { adapter: 'idb' },
  rxStorage: getRxStorageDexie(),
  createRxDatabase,
  replicateWithWebsocketServer,
  Registry,
  FrontendSync,
  cseStore: async (name) => openStore(new IndexedDbAdapter({ name })),
  cseDrop: (name) => deleteDB(name),
  cseConnect: (url) => webSocketConnector(url),
};

const handles = new Map();
let next = 0;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const ops = {
  now: async () => now(),
  load: (args) => load(env, args),
  upload: (args) => upload(env, args),
  async follow(args) {
    const id = next++;
    handles.set(id, await follow(env, args));
    return id;
  },
  /** Waits (up to 10 s) for `total` arrivals, stops following, returns [[id, time]]. */
  async collect({ handle, total }) {
    const h = handles.get(handle);
    handles.delete(handle);
    const end = performance.now() + 10_000;
    while (h.arrivals.size < total && performance.now() < end) await sleep(10);
    await h.stop();
    return [...h.arrivals];
  },
};

globalThis.onmessage = async (ev) => {
  const { id, op, args } = ev.data;
  try {
    globalThis.postMessage({ id, ok: true, value: await ops[op](args) });
  } catch (e) {
    globalThis.postMessage({ id, ok: false, error: String(e?.stack ?? e) });
  }
};
