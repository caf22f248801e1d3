// Timing and memory sampling shared by every workload. A run repeats a step until its time is
// up (at least one step), so a slow backend does fewer operations instead of taking longer.

// Runs in Node and in the browser bench page (bench/browser/page.js): no Node imports here.
const performance = globalThis.performance;
const gc = globalThis.gc;

/**
 * Heap (and RSS in Node). In Chromium `performance.memory` (precise with
 * --enable-precise-memory-info); the browser has no RSS of its own to report.
 */
function memoryUsage() {
  if (globalThis.process?.memoryUsage) return globalThis.process.memoryUsage();
  return { rss: 0, heapUsed: performance.memory?.usedJSHeapSize ?? 0 };
}

export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Peak RSS and heap growth over one run, sampled between steps (a synchronous backend never yields to a timer). */
export class MemorySampler {
  constructor() {
    gc?.();
    const m = memoryUsage();
    this.heapStart = m.heapUsed;
    this.rssPeak = m.rss;
    this.heapPeak = m.heapUsed;
    this.last = performance.now();
  }

  sample(force = false) {
    const now = performance.now();
    if (!force && now - this.last < 5) return;
    this.last = now;
    const m = memoryUsage();
    if (m.rss > this.rssPeak) this.rssPeak = m.rss;
    if (m.heapUsed > this.heapPeak) this.heapPeak = m.heapUsed;
  }

  result() {
    this.sample(true);
    // What stays after a GC at the end, above the heap after the GC at the start: a step that
    // keeps something per operation (a cache, a leak) shows here, garbage does not.
    let retained;
    if (gc) {
      gc();
      retained = Math.max(0, memoryUsage().heapUsed - this.heapStart) / 2 ** 20;
    }
    return {
      rssPeakMb: this.rssPeak / 2 ** 20,
      heapPeakMb: this.heapPeak / 2 ** 20,
      heapGrowthMb: Math.max(0, this.heapPeak - this.heapStart) / 2 ** 20,
      ...(retained === undefined ? {} : { heapRetainedMb: retained }),
    };
  }
}

/**
 * Runs `step` (async, returns how many units it did) until `durationMs` passed.
 * Returns units, seconds, steps and memory.
 */
export async function timedRun(step, durationMs) {
  const mem = new MemorySampler();
  let units = 0;
  let steps = 0;
  const start = performance.now();
  let elapsed = 0;
  do {
    units += await step();
    steps++;
    mem.sample();
    elapsed = performance.now() - start;
  } while (elapsed < durationMs);
  return { units, steps, seconds: elapsed / 1000, ...mem.result() };
}

/**
 * A warm-up run, then `runs` measured runs of each side, alternating which side goes first so
 * that drift (other load on the machine, a growing store) hits both alike.
 * `once(side, durationMs)` measures one run of one side: { units, seconds, rssPeakMb, heapGrowthMb }.
 */
export async function compare(sides, once, { runs, durationMs, warmupMs }) {
  const samples = Object.fromEntries(sides.map((s) => [s, []]));
  for (const s of sides) await once(s, warmupMs);
  for (let r = 0; r < runs; r++) {
    const order = r % 2 === 0 ? sides : [...sides].reverse();
    for (const s of order) samples[s].push(await once(s, durationMs));
  }
  const out = Object.fromEntries(sides.map((s) => [s, summarize(samples[s])]));
  // Runs r of both sides ran back to back under the same load: their ratio is steadier than
  // the ratio of the medians when the machine is shared.
  if (samples.raw && samples.cse) {
    const ratios = samples.raw.map((x, i) => x.units / x.seconds / (samples.cse[i].units / samples.cse[i].seconds));
    out.pairedSlowdown = { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) };
  }
  return out;
}

export function summarize(list) {
  const rates = list.map((x) => x.units / x.seconds);
  return {
    opsPerSec: median(rates),
    min: Math.min(...rates),
    max: Math.max(...rates),
    runs: rates.length,
    units: list.reduce((a, x) => a + x.units, 0),
    rssPeakMb: Math.max(...list.map((x) => x.rssPeakMb ?? 0)),
    heapGrowthMb: Math.max(...list.map((x) => x.heapGrowthMb ?? 0)),
    heapPeakMb: Math.max(...list.map((x) => x.heapPeakMb ?? 0)),
    heapRetainedMb: Math.max(...list.map((x) => x.heapRetainedMb ?? 0)),
  };
}
