import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { isCseError } from '@cse/core';
import { LevelAdapter } from '@cse/adapter-level';
import { commitOk, put, tempDir } from './helpers.js';
import { collect, spawnChild } from './spawn-child.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('one process per classic-level directory', () => {
  it('gives a second process a typed BACKEND error saying the directory is locked', async () => {
    const t = await tempDir();
    cleanups.push(t.cleanup);
    const location = join(t.dir, 'db');
    const holder = new LevelAdapter({ location });
    cleanups.push(() => holder.close());
    await commitOk(holder, put('c', 'x'));

    const child = collect(spawnChild('open-locked', [location]));
    expect(await child.exited, child.stderr()).toBe(0);
    const got = JSON.parse(child.stdout()) as { opened: boolean; cse?: boolean; code?: string; message?: string };
    expect(got).toMatchObject({ opened: false, cse: true, code: 'BACKEND' });
    expect(got.message).toMatch(/locked by another process/);
    expect(got.message).toContain(location);
    // The holder is unharmed.
    expect((await holder.sequence()).lastSyncId).toBe(1);
  });

  it('shares one directory between adapters of this process, and frees it when the last closes', async () => {
    const t = await tempDir();
    cleanups.push(t.cleanup);
    const location = join(t.dir, 'db');
    const first = new LevelAdapter({ location });
    const second = new LevelAdapter({ location: join(t.dir, '.', 'db') });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => commitOk(i % 2 ? first : second, put('c', `x${i}`))),
    );
    expect(results.map((r) => r.records[0]!.syncId).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    const insertRace = await Promise.all(
      [first, second, first, second].map((a) => a.commit({ writes: [put('c', 'once', {}, { kind: 'absent' })], now: 'n' })),
    );
    expect(insertRace.filter((r) => r.ok)).toHaveLength(1);

    await first.close();
    expect((await second.sequence()).lastSyncId).toBe(21);
    const locked = collect(spawnChild('open-locked', [location]));
    expect(await locked.exited, locked.stderr()).toBe(0);
    expect(JSON.parse(locked.stdout())).toMatchObject({ opened: false, code: 'BACKEND' });

    await second.close();
    const free = collect(spawnChild('open-locked', [location]));
    expect(await free.exited, free.stderr()).toBe(0);
    expect(JSON.parse(free.stdout())).toEqual({ opened: true });

    // Reopening right after a close waits for it.
    const third = new LevelAdapter({ location });
    const closing = third.close();
    const fourth = new LevelAdapter({ location });
    await closing;
    expect((await fourth.sequence()).lastSyncId).toBe(21);
    await fourth.close();
    await expect(second.sequence()).rejects.toSatisfy((e) => isCseError(e, 'CLOSED'));
  });
});
