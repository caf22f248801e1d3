// Child of crash.test.ts: commits three documents at a time, forever, printing `ack <i>` after
// each commit resolves, until the parent kills it. argv: location, sync (true|false).
import { LevelAdapter } from '@cse/adapter-level';

const [location, sync] = process.argv.slice(2);
const adapter = new LevelAdapter({ location: location!, sync: sync === 'true' });
// Continue after the commits that survived earlier kills (three documents each).
const start = (await adapter.scanCollection('crash')).length / 3;
process.stdout.write(`start ${start}\n`);
for (let i = start; ; i++) {
  const body = { i, pad: 'x'.repeat(500) };
  const result = await adapter.commit({
    writes: ['a', 'b', 'c'].map((part) => ({ collection: 'crash', id: `${i}-${part}`, kind: 'put' as const, body, expect: { kind: 'absent' as const } })),
    now: new Date().toISOString(),
  });
  if (!result.ok) throw new Error(`commit ${i} failed: ${JSON.stringify(result.failures)}`);
  // Writes to a pipe are synchronous on Linux: once this returns, the parent can read the ack.
  process.stdout.write(`ack ${i}\n`);
}
