// Runs every selected workload against one adapter and its raw baseline, in this process
// (one process per adapter keeps memory figures and crashes apart). Writes JSON to argv[2].
import { performance } from 'node:perf_hooks';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADAPTERS, openSide } from '../adapters.js';
import { WORKLOADS } from '../workloads/index.js';
import { MemorySampler, compare, timedRun } from './measure.js';

const SIDES = ['raw', 'cse'];
const { out, adapterName, params, options, workloads } = JSON.parse(process.argv[2]);
const entry = ADAPTERS[adapterName];
const dir = mkdtempSync(join(options.tmpdir ?? tmpdir(), `cse-bench-${adapterName}-`));
const env = { dir, options, cleanup: [] };
const log = (line) => process.stderr.write(`[${adapterName}] ${line}\n`);

/** Closers of targets opened with ctx.open, run after each workload. */
const opened = [];

const ctx = {
  adapterName,
  entry,
  env,
  params,
  get childEnv() {
    return { dir, redisUrl: env.redisUrl, options };
  },
  /** Opens both sides on `store`, builds each side's step, measures them alternately, closes. */
  async pair(store, makeStep, { wholeRun = false } = {}) {
    const targets = [];
    const steps = {};
    try {
      for (const side of SIDES) {
        const target = await openSide(entry, side, store, env);
        targets.push(target);
        steps[side] = await makeStep(target);
      }
      return await compare(SIDES, (side, ms) => (wholeRun ? wholeRunOnce(steps[side], ms) : timedSteps(steps[side], ms)), params);
    } finally {
      for (const t of targets) await t.close();
      await entry.drop?.(store, env);
    }
  },
  /** Opens one side on `store` and closes it (and drops the store, where the backend keeps it in memory) with the suite. */
  async open(side, store) {
    const target = await openSide(entry, side, store, env);
    opened.push(async () => {
      await target.close();
      await entry.drop?.(store, env);
    });
    return target;
  },
  /** Measures already built steps ({ raw, cse }) alternately. */
  measure(steps) {
    return compare(SIDES, (side, ms) => timedSteps(steps[side], ms), params);
  },
  /** Same, for sides that measure themselves (writer processes): makeSide(side) → { once(ms), close() }. */
  async compareWith(store, makeSide) {
    const sides = {};
    try {
      for (const side of SIDES) sides[side] = await makeSide(side);
      return await compare(SIDES, (side, ms) => sides[side].once(ms), params);
    } finally {
      for (const s of Object.values(sides)) await s.close();
    }
  },
};

function timedSteps(step, ms) {
  return timedRun(step, ms);
}

async function wholeRunOnce(run, ms) {
  const mem = new MemorySampler();
  const start = performance.now();
  const units = await run(ms);
  return { units, seconds: (performance.now() - start) / 1000, ...mem.result() };
}

const result = { adapter: adapterName, package: entry.package, durability: entry.durability, workloads: [] };
try {
  result.facts = await entry.setup(env);
  for (const w of WORKLOADS) {
    if (workloads && !workloads.includes(w.id)) continue;
    const started = performance.now();
    log(`${w.id} ${w.title}`);
    try {
      const r = await w.run(ctx);
      result.workloads.push({ id: w.id, title: w.title, unit: w.unit, target: w.target, ...r, wallSeconds: (performance.now() - started) / 1000 });
    } catch (e) {
      log(`${w.id} failed: ${e.stack ?? e}`);
      result.workloads.push({ id: w.id, title: w.title, unit: w.unit, target: w.target, error: String(e.message ?? e) });
    } finally {
      for (const close of opened.splice(0)) await close().catch((e) => log(`close: ${e.message}`));
    }
  }
  if (env.redis) result.facts.redisUsedMemoryPeakMb = await env.redis.usedMemoryPeakMb();
  result.maxRssMb = process.resourceUsage().maxRSS / 1024;
} catch (e) {
  log(`setup failed: ${e.stack ?? e}`);
  result.error = String(e.message ?? e);
} finally {
  for (const fn of env.cleanup.reverse()) await fn().catch((e) => log(`cleanup: ${e.message}`));
  rmSync(dir, { recursive: true, force: true });
}
writeFileSync(out, JSON.stringify(result));
