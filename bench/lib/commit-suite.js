// Runs the commit workload (workloads/s3-commits.js) in its own process, like sync-suite.js for S1.
// argv[2]: { out, params }; writes the result (or the error) as JSON to `out`.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import s3 from '../workloads/s3-commits.js';

const { out, params } = JSON.parse(process.argv[2]);
const dir = mkdtempSync(join(tmpdir(), 'cse-bench-commits-'));
let result;
try {
  result = { id: s3.id, title: s3.title, ...(await s3.run({ dir, log: (l) => process.stderr.write(`[commits] ${l}\n`) }, params)) };
} catch (e) {
  result = { id: s3.id, title: s3.title, error: e instanceof Error ? (e.stack ?? e.message) : String(e) };
} finally {
  rmSync(dir, { recursive: true, force: true });
}
writeFileSync(out, JSON.stringify(result));
process.exit(0);
