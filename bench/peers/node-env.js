// P1's client environment in Node: PouchDB's memory adapter (pouchdb-adapter-memory, memdown),
// RxDB's memory storage, CSE on a SQLite replica (synchronous=FULL, as S1's replica) in `dir`.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import PouchDB from 'pouchdb';
import memoryAdapter from 'pouchdb-adapter-memory';
import { createRxDatabase } from 'rxdb';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { replicateWithWebsocketServer } from 'rxdb/plugins/replication-websocket';
import { Registry, openStore } from '@cse/core';
import { SqliteAdapter } from '@cse/adapter-sqlite';
import { FrontendSync } from '@cse/sync';
import { nodeWebSocketConnector } from '@cse/sync/node';

PouchDB.plugin(memoryAdapter);

/** Versions of the peers as installed in bench/peers. */
export async function peerVersions() {
  const { readFileSync } = await import('node:fs');
  const here = new URL('.', import.meta.url).pathname;
  // Read from node_modules directly: some packages' exports hide package.json; dexie is RxDB's own.
  const v = (p) => {
    for (const at of [`node_modules/${p}`, `node_modules/rxdb/node_modules/${p}`]) {
      try {
        return JSON.parse(readFileSync(join(here, at, 'package.json'), 'utf8')).version;
      } catch {
        // next
      }
    }
    return 'not installed';
  };
  return Object.fromEntries(['pouchdb', 'pouchdb-adapter-memory', 'pouchdb-browser', 'express-pouchdb', 'rxdb', 'dexie', 'rxjs', 'ws'].map((p) => [p, v(p)]));
}

export function nodeEnv(dir) {
  return {
    PouchDB,
    pouchOptions: { adapter: 'memory' },
    rxStorage: getRxStorageMemory(),
    createRxDatabase,
    replicateWithWebsocketServer,
    Registry,
    FrontendSync,
    cseStore: async (name) => openStore(new SqliteAdapter({ path: join(dir, `${name}.db`), synchronous: 'FULL' })),
    cseDrop: async (name) => {
      for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(join(dir, `${name}.db${suffix}`), { force: true });
    },
    cseConnect: (url) => nodeWebSocketConnector(url),
  };
}
