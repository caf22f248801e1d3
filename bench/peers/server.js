// P1's server side, in its own Node process (forked by lib/peers.js), one per system and run:
//   - cse:     an Edge: SQLite synchronous=FULL (the Edge default), EdgeSync (default page of
//              200), serveEdge (permessage-deflate on, its default), as S1 and L1 do;
//   - pouchdb: express-pouchdb (mode 'minimumForPouchDB', which includes its gzip
//              `compression` middleware) over PouchDB on leveldb (pouchdb's Node default, on disk);
//   - rxdb:    an RxDB database on the memory storage served by replication-websocket's
//              startWebsocketServer (ws defaults: no permessage-deflate).
// Every server sits behind a byte-counting TCP proxy in this same process (lib/byte-proxy.js), so
// counting costs the measuring process nothing; HTTP answers carry CORS headers for the page.
//
// Config (argv[2]): { system, dir, docs }. Seeds `docs` documents (lib/docs.js, ids doc-<i>),
// serves, and sends { t: 'ready', url, proxyUrl, seedSeconds }. Then on messages:
//   { t: 'bytes' }              -> { t: 'bytes', bytes } (both directions through the proxy, then reset)
//   { t: 'go', rate, seconds, tag } -> single-document writes at `rate`/s (ids lat-<tag>-<k>, uptimeSec -1),
//                                  { t: 'committed', batch: [[id, at]] } as they return
//                                  (at = performance.timeOrigin + performance.now()), then { t: 'done' }
import { createServer } from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { byteProxy } from '../lib/byte-proxy.js';
import { COLLECTION, WORKER_TYPE, batch, observed } from '../lib/docs.js';
import { rxCollections } from './rx-schema.js';

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const SEED_CHUNK = 1000;
export const POUCH_DB = 'docs';

/** A lib/docs.js document with its id as PouchDB wants it (`_id`). */
export const pouchDoc = ({ id, ...rest }) => ({ _id: id, ...rest });

function cors(handler) {
  return (req, res) => {
    res.setHeader('access-control-allow-origin', req.headers.origin ?? '*');
    res.setHeader('access-control-allow-credentials', 'true');
    res.setHeader('access-control-allow-methods', 'GET, PUT, POST, HEAD, DELETE');
    res.setHeader('access-control-allow-headers', 'accept, authorization, content-type, origin, referer');
    if (req.method === 'OPTIONS') return res.writeHead(204).end();
    return handler(req, res);
  };
}

async function cse({ dir, docs }) {
  const [{ Registry, TriangularStore, openStore }, { SqliteAdapter }, { EdgeSync }, { serveEdge }] = await Promise.all([import('@cse/core'), import('@cse/adapter-sqlite'), import('@cse/sync'), import('@cse/sync/node')]);
  const adapter = new SqliteAdapter({ path: join(dir, 'edge.db'), synchronous: 'FULL' });
  const store = openStore(adapter);
  const registry = new Registry();
  registry.registerWorkerType(WORKER_TYPE, 'v1');
  // Seeding straight to the adapter's commit, as S1 and L1 do.
  for (let i = 0; i < docs; i += SEED_CHUNK) {
    const writes = batch('doc-', i, Math.min(SEED_CHUNK, docs - i)).map((b) => ({ collection: COLLECTION, id: b.id, kind: 'put', body: b }));
    const result = await adapter.commit({ writes, now: new Date().toISOString() });
    if (!result.ok) throw new Error('seeding failed');
  }
  const triangular = new TriangularStore(store, registry);
  const sync = new EdgeSync({ store, registry, triangular });
  const server = await serveEdge(sync);
  return {
    port: server.port,
    write: (id, k) => triangular.saveObserved(WORKER_TYPE, id, { ...observed(k), uptimeSec: -1 })
  };
}

async function pouchdb({ dir, docs }) {
  const { default: PouchDB } = await import('pouchdb');
  const { default: expressPouchDB } = await import('express-pouchdb');
  const Local = PouchDB.defaults({ prefix: `${dir}/` });
  const db = new Local(POUCH_DB);
  for (let i = 0; i < docs; i += SEED_CHUNK) {
    const res = await db.bulkDocs(batch('doc-', i, Math.min(SEED_CHUNK, docs - i)).map(pouchDoc));
    if (res.some((r) => r.error)) throw new Error('seeding failed');
  }
  const app = expressPouchDB(Local, { mode: 'minimumForPouchDB', inMemoryConfig: true, logPath: join(dir, 'log.txt') });
  const http = createServer(cors(app));
  await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
  return {
    port: http.address().port,
    path: `/${POUCH_DB}`,
    write: (id, k) => db.put({ _id: id, ...observed(k), uptimeSec: -1 })
  };
}

async function rxdb({ docs }) {
  const { createRxDatabase } = await import('rxdb');
  const { getRxStorageMemory } = await import('rxdb/plugins/storage-memory');
  const { startWebsocketServer } = await import('rxdb/plugins/replication-websocket');
  const database = await createRxDatabase({ name: `server${process.pid}`, storage: getRxStorageMemory(), multiInstance: false });
  await database.addCollections(rxCollections());
  const collection = database[COLLECTION];
  for (let i = 0; i < docs; i += SEED_CHUNK) {
    const res = await collection.bulkInsert(batch('doc-', i, Math.min(SEED_CHUNK, docs - i)));
    if (res.error.length > 0) throw new Error('seeding failed');
  }
  const server = startWebsocketServer({ database, host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => (server.server.address() ? resolve() : server.server.once('listening', resolve)));
  return {
    port: server.server.address().port,
    write: (id, k) => collection.insert({ id, ...observed(k), uptimeSec: -1 })
  };
}

async function main(config) {
  const t0 = performance.now();
  const s = await { cse, pouchdb, rxdb }[config.system](config);
  const seedSeconds = (performance.now() - t0) / 1000;
  const proxy = await byteProxy({ host: '127.0.0.1', port: s.port });
  const scheme = config.system === 'pouchdb' ? 'http' : 'ws';
  const path = s.path ?? '';
  process.send({ t: 'ready', url: `${scheme}://127.0.0.1:${s.port}${path}`, proxyUrl: `${proxy.url.replace('ws:', `${scheme}:`)}${path}`, seedSeconds });
  process.on('message', async (m) => {
    if (m.t === 'bytes') {
      process.send({ t: 'bytes', bytes: proxy.counter.bytes });
      proxy.counter.bytes = 0;
    } else if (m.t === 'go') {
      // As lib/edge-child.js: one write at a time on a steady clock, times batched over IPC.
      const total = Math.round(m.rate * m.seconds);
      const start = performance.now();
      let out = [];
      let flushed = performance.now();
      for (let k = 0; k < total; k++) {
        const wait = start + (k * 1000) / m.rate - performance.now();
        if (wait > 1) await sleep(wait);
        const id = `lat-${m.tag}-${k}`;
        await s.write(id, k);
        out.push([id, now()]);
        if (performance.now() - flushed > 50) {
          process.send({ t: 'committed', batch: out });
          out = [];
          flushed = performance.now();
          await sleep(0);
        }
      }
      process.send({ t: 'committed', batch: out });
      process.send({ t: 'done', total, achievedRate: total / ((performance.now() - start) / 1000) });
    }
  });
}

await main(JSON.parse(process.argv[2]));
