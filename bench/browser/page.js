// The IndexedDB suite inside real Chromium: the same workloads (W1-W5), the same CSE target and
// the same raw `idb` baseline as the Node suite, on the browser's own on-disk IndexedDB.
// lib/browser-suite.js bundles this file with esbuild, serves it on loopback and calls
// `globalThis.benchSuite(config)` through Playwright; the result has the shape lib/suite.js writes.
import { deleteDB } from 'idb';
import { IndexedDbAdapter } from '@cse/adapter-indexeddb';
import { indexedDbBaseline } from '../baselines/indexeddb.js';
import { cseTarget } from '../lib/cse-target.js';
import { compare, timedRun } from '../lib/measure.js';
import { loadInit, loadRun } from './load.js';
import w1 from '../workloads/w1-single-save.js';
import w2 from '../workloads/w2-versioned-update.js';
import w3 from '../workloads/w3-batch.js';
import w4 from '../workloads/w4-delta-read.js';
import w5 from '../workloads/w5-delta-scaling.js';

const SIDES = ['raw', 'cse'];
const BROWSER_WORKLOADS = [w1, w2, w3, w4, w5];

const entry = {
  async open(side, name) {
    if (side === 'raw') return indexedDbBaseline({ name: `${name}-raw` });
    const adapter = new IndexedDbAdapter({ name: `${name}-cse` });
    await adapter.ready();
    return cseTarget(adapter);
  },
  async drop(name) {
    await Promise.all([deleteDB(`${name}-cse`), deleteDB(`${name}-raw`)]);
  },
};

// L1 (initial load, lib/browser-suite.js drives it run by run).
globalThis.loadInit = loadInit;
globalThis.loadRun = loadRun;

globalThis.benchSuite = async ({ params, workloads }) => {
  const opened = [];
  const ctx = {
    adapterName: 'indexeddb-chromium',
    params,
    async pair(store, makeStep) {
      const targets = [];
      const steps = {};
      try {
        for (const side of SIDES) {
          const target = await entry.open(side, store);
          targets.push(target);
          steps[side] = await makeStep(target);
        }
        return await compare(SIDES, (side, ms) => timedRun(steps[side], ms), params);
      } finally {
        for (const t of targets) await t.close();
        await entry.drop(store);
      }
    },
    async open(side, store) {
      const target = await entry.open(side, store);
      opened.push(async () => {
        await target.close();
        await entry.drop(store).catch(() => undefined);
      });
      return target;
    },
    measure(steps) {
      return compare(SIDES, (side, ms) => timedRun(steps[side], ms), params);
    },
  };
  const out = [];
  for (const w of BROWSER_WORKLOADS) {
    if (workloads && !workloads.includes(w.id)) continue;
    const started = performance.now();
    try {
      const r = await w.run(ctx);
      out.push({ id: w.id, title: w.title, unit: w.unit, target: w.target, ...r, wallSeconds: (performance.now() - started) / 1000 });
    } catch (e) {
      out.push({ id: w.id, title: w.title, unit: w.unit, target: w.target, error: String(e?.stack ?? e) });
    } finally {
      for (const close of opened.splice(0)) await close().catch(() => undefined);
    }
  }
  return { workloads: out, userAgent: globalThis.navigator?.userAgent };
};
