// L1: initial load into IndexedDB in headless Chromium (issue 26). Run by lib/browser-suite.js in
// the page it opened: for each size, an Edge in its own Node process (lib/load-edge.js: SQLite,
// loopback WebSocket), then raw and CSE loads alternating (raw first in even rounds), each in
// the page's worker (browser/load-worker.js) with a fresh database, while the page watches its
// main thread for long tasks (browser/load.js).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleScript } from '../../test-support/chromium.js';
import { startLoadEdge } from './load-edge.js';
import { descendantsCpu, processCpu } from './proc-cpu.js';

const here = dirname(fileURLToPath(import.meta.url));
export const LOAD_TITLE = 'initial load into IndexedDB in Chromium: CSE (FrontendSync in a worker, Edge process over a loopback WebSocket) vs raw idb batched ingest';
export const LOAD_TARGET = { minRatio: 0.8, maxSecondsAt100k: 15, maxTaskMs: 50, text: 'CSE ≥ 0.8x raw docs/s at each size, 100k in < 15 s, no page task over 50 ms' };

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Runs L1 in `page` (already serving browser/page.js); returns the workload result. */
export async function runLoad(page, params, log) {
  const started = Date.now();
  await page.evaluate((source) => globalThis.loadInit(source), await bundleScript(join(here, '..', 'browser', 'load-worker.js')));
  const sizes = [];
  const dir = mkdtempSync(join(tmpdir(), 'cse-bench-load-'));
  try {
    // CSE_BENCH_LOAD_SIZES=10000,30000 overrides the sizes (for profiling one size alone).
    const sizesWanted = process.env.CSE_BENCH_LOAD_SIZES?.split(',').map(Number) ?? params.loadSizes;
    for (const docs of sizesWanted) {
      // CSE_BENCH_LOAD_PAGE=1000 sets the Edge's page size (default: EdgeSync's own).
      const pageSize = process.env.CSE_BENCH_LOAD_PAGE ? Number(process.env.CSE_BENCH_LOAD_PAGE) : undefined;
      const edge = await startLoadEdge({ path: join(dir, `edge-${docs}.db`), docs, pageSize });
      const runs = { raw: [], cse: [] };
      try {
        for (let round = 0; round < params.loadRuns; round++) {
          for (const side of round % 2 === 0 ? ['raw', 'cse'] : ['cse', 'raw']) {
            // CPU of Chromium's processes (all descendants of this one but the Edge) and of the Edge.
            const [browser0, edge0] = [descendantsCpu(process.pid, [edge.pid]), processCpu(edge.pid)];
            const r = await page.evaluate((c) => globalThis.loadRun(c), { side, name: `load-${docs}-${side}-${round}`, url: edge.url, docs });
            r.browserCpuUsPerDoc = ((descendantsCpu(process.pid, [edge.pid]) - browser0) / docs) * 1e6;
            r.edgeCpuUsPerDoc = ((processCpu(edge.pid) - edge0) / docs) * 1e6;
            const where = r.commits ? `, ${r.commits} replica commits, ${r.commitSeconds.toFixed(2)} s in them` : '';
            const cpu = `, CPU per doc: browser ${r.browserCpuUsPerDoc.toFixed(0)} µs, Edge ${r.edgeCpuUsPerDoc.toFixed(0)} µs`;
            log(`L1 ${docs} ${side}: ${Math.round(r.docsPerSec)} docs/s (${r.seconds.toFixed(2)} s${where}${cpu}), page long tasks ${r.longTasks}, longest ${r.longestTaskMs.toFixed(0)} ms`);
            runs[side].push(r);
          }
        }
      } finally {
        await edge.stop();
      }
      const raw = median(runs.raw.map((r) => r.docsPerSec));
      const cse = median(runs.cse.map((r) => r.docsPerSec));
      sizes.push({
        docs,
        edgeReadPerSec: edge.readPerSec,
        raw: { docsPerSec: raw, runs: runs.raw.map((r) => r.docsPerSec), browserCpuUsPerDoc: median(runs.raw.map((r) => r.browserCpuUsPerDoc)) },
        cse: { docsPerSec: cse, seconds: median(runs.cse.map((r) => r.seconds)), runs: runs.cse.map((r) => r.docsPerSec), commits: runs.cse.map((r) => r.commits), commitSeconds: runs.cse.map((r) => r.commitSeconds), browserCpuUsPerDoc: median(runs.cse.map((r) => r.browserCpuUsPerDoc)), edgeCpuUsPerDoc: median(runs.cse.map((r) => r.edgeCpuUsPerDoc)) },
        ratio: cse / raw,
        longestTaskMs: Math.max(0, ...runs.cse.map((r) => r.longestTaskMs)),
        longTasks: runs.cse.reduce((n, r) => n + r.longTasks, 0),
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { id: 'L1', title: LOAD_TITLE, unit: 'docs/s', target: LOAD_TARGET, runs: params.loadRuns, sizes, wallSeconds: (Date.now() - started) / 1000 };
}
