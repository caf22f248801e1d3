// A damaged write-ahead log must not silently cost committed changes (issue 27: with the .log
// tail damaged, a committed 100-document batch was missing after reopen with no error). The
// open refuses with CORRUPT, every time, until an explicit repair, which moves the counter and
// the watermark past every id that may have been handed out.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ClassicLevel } from 'classic-level';
import { isCseError, openStore } from '@cse/core';
import { LevelAdapter } from '@cse/adapter-level';
import { tempDir } from './helpers.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function dir(): Promise<string> {
  const t = await tempDir();
  cleanups.push(t.cleanup);
  return t.dir;
}

async function refusal(location: string): Promise<Error> {
  const adapter = new LevelAdapter({ location });
  try {
    await adapter.ready();
  } catch (e) {
    await adapter.close();
    return e as Error;
  }
  await adapter.close();
  throw new Error('expected the open to be refused');
}

describe('a damaged store is refused at open', () => {
  it('LevelDB dropped corrupt bytes of the .log holding a committed batch: CORRUPT, again on the next open, until repair', async () => {
    const location = await dir();
    const store = openStore(new LevelAdapter({ location }));
    for (let i = 0; i < 5; i++) await store.insert('a', { id: `s${i}` });
    await store.insertMany('a', Array.from({ length: 100 }, (_, i) => ({ id: `b${i}`, pad: 'x'.repeat(200) })));
    expect(await store.lastSyncId()).toBe(105);
    await store.close();
    // Damage bytes near the end of the log: the batch's record fails its checksum.
    const log = join(location, readdirSync(location).find((f) => f.endsWith('.log')) as string);
    const bytes = readFileSync(log);
    for (let i = bytes.length - 200; i < bytes.length - 100; i++) bytes[i] = (bytes[i] as number) ^ 0xff;
    writeFileSync(log, bytes);

    for (const attempt of ['first open', 'second open']) {
      const e = await refusal(location);
      expect(isCseError(e, 'CORRUPT'), `${attempt}: ${String(e)}`).toBe(true);
      expect(e.message).toMatch(/dropped \d+ corrupt bytes of the write-ahead log/);
      expect(e.message).toMatch(/commits after _sync_id 5 may be lost/);
    }

    const repaired = openStore(new LevelAdapter({ location, repair: true }));
    const counter = await repaired.lastSyncId();
    expect(counter).toBeGreaterThanOrEqual(105);
    expect(await repaired.compactedThrough()).toBe(counter);
    // A reader that may have received a lost change resets; new commits never reuse its ids.
    await expect(repaired.changesSince(105)).rejects.toMatchObject({ code: 'RESET_REQUIRED' });
    expect((await repaired.insert('a', { id: 'after' }))._sync_id).toBe(counter + 1);
    expect((await repaired.find('a')).length).toBe(6);
    await repaired.close();
    const again = openStore(new LevelAdapter({ location }));
    expect(await again.lastSyncId()).toBe(counter + 1);
    await again.close();
  });

  it('a counter above every record (changes gone under it) is CORRUPT too', async () => {
    const location = await dir();
    const store = openStore(new LevelAdapter({ location }));
    await store.insert('a', { id: 'x' });
    await store.close();
    const db = new ClassicLevel<string, string>(location);
    await db.put('m!last', '7');
    await db.close();
    const e = await refusal(location);
    expect(isCseError(e, 'CORRUPT'), String(e)).toBe(true);
    expect(e.message).toMatch(/the counter stands at 7 but the newest record has _sync_id 1/);
  });

  it('an intact store, a compacted one and an empty one open as before', async () => {
    const location = await dir();
    const store = openStore(new LevelAdapter({ location }));
    await store.insert('a', { id: 'x' });
    await store.delete('a', 'x');
    await store.compact(await store.lastSyncId());
    await store.close();
    const again = openStore(new LevelAdapter({ location }));
    expect(await again.lastSyncId()).toBe(2);
    await again.close();
    const empty = new LevelAdapter({ location: await dir() });
    await empty.ready();
    await empty.close();
  });
});
