// P1's Chromium client: bundles bench/peers/browser-worker.js with esbuild (`ws` mapped to the
// browser's WebSocket for RxDB's client), serves a page on 127.0.0.1, opens it in headless
// Chromium on a persistent profile (IndexedDB on disk, as the indexeddb-chromium suite) and runs
// the worker's operations there. Arrival times come back on the worker's clock
// (performance.timeOrigin + now()), shifted onto Node's by a round-trip calibration.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { launchPersistentChromium, serveScript } from '../../test-support/chromium.js';

const here = dirname(fileURLToPath(import.meta.url));
const peers = join(here, '..', 'peers');
const nodeNow = () => performance.timeOrigin + performance.now();

const PAGE = `
let worker;
const pending = new Map();
let seq = 0;
globalThis.p1Init = (source) => {
  worker = new Worker(URL.createObjectURL(new Blob([source], { type: 'text/javascript' })), { type: 'module' });
  worker.onmessage = (ev) => {
    const { id, ok, value, error } = ev.data;
    const p = pending.get(id);
    pending.delete(id);
    if (ok) p.resolve(value);
    else p.reject(new Error(error));
  };
};
globalThis.p1Call = (op, args) => new Promise((resolve, reject) => {
  const id = seq++;
  pending.set(id, { resolve, reject });
  worker.postMessage({ id, op, args });
});
`;

async function bundleWorker() {
  const { build } = await import('esbuild');
  const wsShim = {
    name: 'ws-browser',
    setup(b) {
      b.onResolve({ filter: /^ws$/ }, () => ({ path: join(peers, 'ws-browser.js') }));
    },
  };
  const out = await build({
    entryPoints: [join(peers, 'browser-worker.js')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    write: false,
    logLevel: 'error',
    plugins: [wsShim],
    define: { global: 'globalThis', 'process.env.NODE_ENV': '"production"' },
  });
  return out.outputFiles[0].text;
}

/** Opens Chromium with the worker; resolves to the client measureEnv (workloads/p1-peers.js) drives. */
export async function chromiumClient(params, log) {
  const source = await bundleWorker();
  const server = await serveScript(PAGE, 'cse bench P1');
  const profile = mkdtempSync(join(tmpdir(), 'cse-bench-p1-chromium-'));
  let context;
  try {
    context = await launchPersistentChromium(profile);
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (m) => (m.type() === 'error' ? log(`console: ${m.text()}`) : undefined));
    page.on('pageerror', (e) => log(`page error: ${e.message}`));
    await page.goto(server.url);
    await page.waitForFunction(() => typeof globalThis.p1Init === 'function');
    await page.evaluate((s) => globalThis.p1Init(s), source);
    const call = (op, args) => page.evaluate(([o, a]) => globalThis.p1Call(o, a), [op, args]);
    const version = context.browser()?.version() ?? (await page.evaluate(() => globalThis.navigator.userAgent));
    /** The worker's clock minus Node's, from the round trip with the smallest delay of 10. */
    async function offset() {
      let best;
      for (let i = 0; i < 10; i++) {
        const t0 = nodeNow();
        const b = await call('now');
        const t1 = nodeNow();
        if (!best || t1 - t0 < best.rtt) best = { rtt: t1 - t0, off: b - (t0 + t1) / 2 };
      }
      return best;
    }
    return {
      version,
      load: (a) => call('load', a),
      upload: (a) => call('upload', a),
      async follow(a) {
        return { handle: await call('follow', a), clock: await offset() };
      },
      async collect(h, total) {
        const entries = await call('collect', { handle: h.handle, total });
        return new Map(entries.map(([id, t]) => [id, t - h.clock.off]));
      },
      /** Skips a size whose time, scaled from this system's smaller load, would pass the cap. */
      cap(system, docs, loads) {
        const smaller = loads.filter((r) => r.system === system && !r.skipped && r.docs < docs).at(-1);
        if (!smaller) return undefined;
        const estimate = smaller.seconds * (docs / smaller.docs);
        return estimate > params.peerChromiumCapSeconds ? `about ${Math.round(estimate)} s estimated from ${smaller.docs.toLocaleString('en-US')}, over the ${params.peerChromiumCapSeconds} s cap` : undefined;
      },
      async close() {
        await context.close().catch(() => undefined);
        await server.close();
        rmSync(profile, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await context?.close().catch(() => undefined);
    await server.close();
    rmSync(profile, { recursive: true, force: true });
    throw e;
  }
}
