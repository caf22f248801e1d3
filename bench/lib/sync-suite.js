// Runs the sync workload (workloads/s1-sync.js) in its own process, like suite.js does for an
// adapter. argv[2]: { out, params }; writes the result (or the error) as JSON to `out`.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import s1 from '../workloads/s1-sync.js';

const { out, params } = JSON.parse(process.argv[2]);
const dir = mkdtempSync(join(tmpdir(), 'cse-bench-sync-'));
let result;
try {
  result = { id: s1.id, title: s1.title, ...(await s1.run({ dir, log: (l) => process.stderr.write(`[sync] ${l}\n`) }, params)) };
} catch (e) {
  result = { id: s1.id, title: s1.title, error: e instanceof Error ? (e.stack ?? e.message) : String(e) };
} finally {
  rmSync(dir, { recursive: true, force: true });
}
writeFileSync(out, JSON.stringify(result));
process.exit(0);
