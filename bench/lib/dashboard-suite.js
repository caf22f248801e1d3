// Runs the dashboard workload (workloads/d1-dashboard.js) in its own process, like sync-suite.js
// for S1. argv[2]: { out, params, quick }; writes the result (or the error) as JSON to `out`.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import d1 from '../workloads/d1-dashboard.js';

const { out, params, quick } = JSON.parse(process.argv[2]);
const dir = mkdtempSync(join(tmpdir(), 'cse-bench-dashboard-'));
let result;
try {
  result = { id: d1.id, title: d1.title, ...(await d1.run({ dir, log: (l) => process.stderr.write(`[dashboard] ${l}\n`) }, params, quick === true)) };
} catch (e) {
  result = { id: d1.id, title: d1.title, error: e instanceof Error ? (e.stack ?? e.message) : String(e) };
} finally {
  rmSync(dir, { recursive: true, force: true });
}
writeFileSync(out, JSON.stringify(result));
process.exit(0);
