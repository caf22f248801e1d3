// Child of lock.test.ts: tries to open a directory the parent holds, prints what it got as JSON.
import { isCseError } from '@cse/core';
import { LevelAdapter } from '@cse/adapter-level';

const adapter = new LevelAdapter({ location: process.argv[2]! });
try {
  await adapter.ready();
  process.stdout.write(JSON.stringify({ opened: true }));
} catch (e) {
  process.stdout.write(JSON.stringify({ opened: false, cse: isCseError(e), code: (e as { code?: unknown }).code, message: (e as Error).message }));
}
await adapter.close();
