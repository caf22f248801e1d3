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

  it('refuses a second adapter on the same directory in this process the same way', async () => {
    const t = await tempDir();
    cleanups.push(t.cleanup);
    const location = join(t.dir, 'db');
    const first = new LevelAdapter({ location });
    cleanups.push(() => first.close());
    await first.ready();
    const second = new LevelAdapter({ location });
    await expect(second.ready()).rejects.toSatisfy((e) => isCseError(e, 'BACKEND') && /locked/.test((e as Error).message));
    await expect(second.commit({ writes: [put('c', 'x')], now: 'n' })).rejects.toSatisfy((e) => isCseError(e, 'BACKEND'));
    await second.close();
    expect(await first.listCollections()).toEqual([]);
  });
});
