// P1: sync side by side (issue 26). CSE against PouchDB (replicating from express-pouchdb) and
// RxDB (replication-websocket), the same lib/docs.js documents for all three, in Node and in
// headless Chromium. Each server runs in its own Node process behind a byte-counting proxy
// (bench/peers/server.js); the client side is the same code in both environments
// (bench/peers/clients.js). Rows (live and upload run first in each environment, then the loads):
//   - initial load of N documents into an empty replica (seconds from opening the replica's
//     database until every document is in it);
//   - live latency: single-document writes on the server at 100/s and 1000/s, from the write's
//     return to the document's arrival in the replica's change feed (CSE: Store.watch; PouchDB:
//     changes({ live }); RxDB: collection.$): median and p99;
//   - upload: 1,000 writes made at once on the client until the server acknowledged them all;
//   - bytes per change: both directions through the proxy during the initial load at the small N.
// The peers (bench/peers, not an npm workspace) are installed on demand by bench/run.js.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startPeerServer } from '../lib/peer-server.js';

export const SYSTEMS = ['cse', 'pouchdb', 'rxdb'];
export const TITLE = 'sync side by side: CSE vs PouchDB (express-pouchdb) vs RxDB (replication-websocket), Node and Chromium';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const quantile = (xs, p) => (xs.length === 0 ? NaN : xs[Math.min(xs.length - 1, Math.floor(p * xs.length))]);

/**
 * The three kinds of rows for one environment. `client` runs the client side:
 * { load(args), follow(args) -> handle, collect(handle, total) -> Map, upload(args) }; `cap(system, docs, small)`
 * may skip a size (returns a reason).
 */
async function measureEnv(where, client, params, log, dir) {
  const out = { load: [], live: [], upload: [], bytes: [] };
  let n = 0;
  const name = (what, system) => `p1-${where}-${what}-${system}-${process.pid}-${n++}`;
  // Live and upload first: after the 100k loads Chromium's IndexedDB is busy cleaning up the
  // deleted databases for a while, which would fall on whichever system came next.
  for (const system of SYSTEMS) {
    const server = await startPeerServer({ system, dir: mkdtempSync(join(dir, `${system}-`)), docs: 0 });
    try {
      for (const rate of params.peerRates) {
        const handle = await client.follow({ system, url: server.url, name: name('live', system) });
        const w = await server.go(rate, params.peerLiveSeconds, String(rate));
        const arrivals = await client.collect(handle, w.total);
        const lat = [];
        for (const [id, at] of w.committed) if (arrivals.has(id)) lat.push(Math.max(0, arrivals.get(id) - at));
        lat.sort((a, b) => a - b);
        const row = { system, targetRate: rate, achievedRate: w.achievedRate, changes: w.total, seen: lat.length, medianMs: quantile(lat, 0.5), p99Ms: quantile(lat, 0.99), maxMs: lat[lat.length - 1] };
        out.live.push(row);
        log(`P1 ${where} ${system} live at ${rate}/s (achieved ${Math.round(w.achievedRate)}/s): median ${row.medianMs?.toFixed(1)} ms, p99 ${row.p99Ms?.toFixed(1)} ms, ${row.seen} of ${row.changes} seen`);
      }
      const r = await client.upload({ system, url: server.url, name: name('upload', system), writes: params.peerUploads });
      out.upload.push({ system, writes: params.peerUploads, seconds: r.seconds, writesPerSec: params.peerUploads / r.seconds });
      log(`P1 ${where} ${system} upload of ${params.peerUploads} writes: ${r.seconds.toFixed(2)} s`);
    } finally {
      await server.stop();
    }
  }
  for (const docs of params.peerSizes) {
    for (const system of SYSTEMS) {
      const skip = client.cap?.(system, docs, out.load);
      if (skip) {
        out.load.push({ system, docs, skipped: skip });
        log(`P1 ${where} ${system} ${docs}: skipped (${skip})`);
        continue;
      }
      const server = await startPeerServer({ system, dir: mkdtempSync(join(dir, `${system}-`)), docs });
      try {
        const variants = system === 'pouchdb' && docs === params.peerSizes[0] && where === 'node' ? [true, false] : [true];
        for (const gzip of variants) {
          await server.bytes();
          const r = await client.load({ system, url: server.proxyUrl, docs, name: name('load', system), gzip });
          const bytes = await server.bytes();
          const row = { system, docs, seconds: r.seconds, docsPerSec: docs / r.seconds, bytesPerChange: bytes / docs, ...(system === 'pouchdb' ? { gzip } : {}), seedSeconds: server.seedSeconds };
          if (gzip) out.load.push(row);
          if (docs === params.peerSizes[0]) out.bytes.push({ system, ...(system === 'pouchdb' ? { gzip } : {}), bytesPerChange: row.bytesPerChange, seconds: r.seconds });
          log(`P1 ${where} ${system}${system === 'pouchdb' && !gzip ? ' (no gzip)' : ''} initial load of ${docs}: ${r.seconds.toFixed(2)} s, ${Math.round(row.docsPerSec)} docs/s, ${row.bytesPerChange.toFixed(0)} B/change on the wire`);
        }
      } finally {
        await server.stop();
      }
    }
  }
  return out;
}

/** The Node client: runs bench/peers/clients.js in this process. */
async function nodeClient(dir) {
  const clients = await import('../peers/clients.js');
  const { nodeEnv } = await import('../peers/node-env.js');
  const env = nodeEnv(dir);
  return {
    load: (a) => clients.load(env, a),
    follow: (a) => clients.follow(env, a),
    async collect(handle, total) {
      const end = performance.now() + 10_000;
      while (handle.arrivals.size < total && performance.now() < end) await sleep(10);
      await handle.stop();
      return handle.arrivals;
    },
    upload: (a) => clients.upload(env, a),
  };
}

export default {
  id: 'P1',
  title: TITLE,
  async run(env, params) {
    const log = env.log ?? (() => undefined);
    const { SETTINGS } = await import('../peers/clients.js');
    const { peerVersions } = await import('../peers/node-env.js');
    const out = { params: { sizes: params.peerSizes, rates: params.peerRates, liveSeconds: params.peerLiveSeconds, uploads: params.peerUploads, chromiumCapSeconds: params.peerChromiumCapSeconds }, versions: await peerVersions(), settings: SETTINGS, node: undefined, chromium: undefined };
    const dir = mkdtempSync(join(tmpdir(), 'cse-bench-p1-'));
    try {
      log('P1 in Node: PouchDB memory adapter, RxDB memory storage, CSE on a SQLite replica');
      out.node = await measureEnv('node', await nodeClient(dir), params, log, dir);
      if (params.peerChromium !== false) {
        log('P1 in Chromium: PouchDB idb adapter, RxDB Dexie storage, CSE on IndexedDB');
        try {
          const { chromiumClient } = await import('../lib/peers-chromium.js');
          const client = await chromiumClient(params, log);
          try {
            out.chromium = await measureEnv('chromium', client, params, log, dir);
            out.chromiumVersion = client.version;
          } finally {
            await client.close();
          }
        } catch (e) {
          out.chromiumError = String(e?.stack ?? e);
          log(`P1 in Chromium failed: ${out.chromiumError}`);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    return out;
  },
};
