// CPU time per operation (user + system, process.cpuUsage) of both sides of W1, W2, W3 and W4
// on one adapter: steadier than rates on a loaded machine, and what CSE's own overhead is.
//   node --expose-gc bench/lib/cpu-per-op.js sqlite-normal [ops] [W1,W3]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADAPTERS, openSide } from '../adapters.js';
import { batch, observed } from './docs.js';

const [name = 'sqlite-normal', opsArg = '2000', only] = process.argv.slice(2);
const ops = Number(opsArg);
const entry = ADAPTERS[name];
const dir = mkdtempSync(join(tmpdir(), 'cse-cpu-'));
const env = { dir, options: { redisPersistence: 'none' }, cleanup: [] };
await entry.setup(env);

let k = 0;
let wall = [];
async function cpu(fn, n) {
  globalThis.gc?.();
  const start = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await fn(k++);
  const d = process.cpuUsage(start);
  wall.push(((performance.now() - t0) * 1000) / n);
  return (d.user + d.system) / n;
}

const rows = [];
let store = 0;
for (const [id, n, make] of [
  ['W1', ops, async (t) => (i) => t.saveNew(`w-${i}`, observed(i))],
  ['W2', ops, async (t) => {
    await t.seed(batch('doc-', 0, 1000));
    const v = new Array(1000).fill(1);
    return async (i) => { v[i % 1000] = await t.update(`doc-${i % 1000}`, observed(i + 1), v[i % 1000]); };
  }],
  ['W3', Math.max(5, ops / 200), async (t) => async (i) => t.insertBatch(batch(`b${i}-`, 0, 1000))],
  ['W4', ops, async (t) => {
    await t.seed(batch('doc-', 0, 10_000));
    let cursor = 0;
    return async () => { const p = await t.changes(cursor, 100); cursor = p.hasMore ? p.cursor : 0; };
  }],
]) {
  if (only && !only.split(',').includes(id)) continue;
  const res = {};
  wall = [];
  for (const round of [0, 1, 2]) {
    for (const side of round % 2 ? ['cse', 'raw'] : ['raw', 'cse']) {
      const t = await openSide(entry, side, `cpu${store++}`, env);
      const step = await make(t);
      await cpu(step, Math.max(1, n / 10)); // warm-up
      (res[side] ??= []).push(await cpu(step, n));
      await t.close();
      await entry.drop?.(`cpu${store - 1}`, env);
    }
  }
  const med = (a) => [...a].sort((x, y) => x - y)[1];
  rows.push(`${name} ${id}: cpu µs/op cse ${med(res.cse).toFixed(1)} raw ${med(res.raw).toFixed(1)}  raw/CSE ${(med(res.raw) / med(res.cse)).toFixed(2)}`);
  console.log(`${rows[rows.length - 1]}   wall µs/op (pairs raw,cse | cse,raw ...): ${wall.filter((_, i) => i % 2 === 1).map((x) => x.toFixed(0)).join(' ')}`);
}
for (const fn of env.cleanup.reverse()) await fn();
rmSync(dir, { recursive: true, force: true });
