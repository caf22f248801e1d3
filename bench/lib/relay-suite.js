// Runs the relay workload (workloads/s2-relay.js) in its own process, like sync-suite.js for S1.
// argv[2]: { out, params }; writes the result (or the error) as JSON to `out`.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import s2 from '../workloads/s2-relay.js';

const { out, params } = JSON.parse(process.argv[2]);
const dir = mkdtempSync(join(tmpdir(), 'cse-bench-relay-'));
let result;
try {
  result = { id: s2.id, title: s2.title, ...(await s2.run({ dir, log: (l) => process.stderr.write(`[relay] ${l}\n`) }, params)) };
} catch (e) {
  result = { id: s2.id, title: s2.title, error: e instanceof Error ? (e.stack ?? e.message) : String(e) };
} finally {
  rmSync(dir, { recursive: true, force: true });
}
writeFileSync(out, JSON.stringify(result));
process.exit(0);
