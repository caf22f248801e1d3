// Runs P1, sync side by side with PouchDB and RxDB (workloads/p1-peers.js), in its own process,
// like sync-suite.js for S1. argv[2]: { out, params }; writes the result (or the error) as JSON to `out`.
import { writeFileSync } from 'node:fs';
import p1 from '../workloads/p1-peers.js';

const { out, params } = JSON.parse(process.argv[2]);
let result;
try {
  result = { id: p1.id, title: p1.title, ...(await p1.run({ log: (l) => process.stderr.write(`[peers] ${l}\n`) }, params)) };
} catch (e) {
  result = { id: p1.id, title: p1.title, error: e instanceof Error ? (e.stack ?? e.message) : String(e) };
}
writeFileSync(out, JSON.stringify(result));
process.exit(0);
