import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { openStore } from '@cse/core';
import { freshNamespace, storeUrl, targets } from './targets.js';

const run = promisify(execFile);
const child = fileURLToPath(new URL('./children/counter-writer.ts', import.meta.url));
const PROCESSES = 3;
const CLIENTS = 3;
const INCREMENTS = 15;

describe.each(targets)('several processes writing one namespace on a $name', (target) => {
  it('lose no update and hand out unique, increasing sync ids', async () => {
    const url = storeUrl(target, freshNamespace('multi'));
    const store = await openStore(url);
    await store.insert('counters', { id: 'shared', n: 0 });

    const outputs = await Promise.all(
      Array.from({ length: PROCESSES }, () =>
        run(process.execPath, ['--conditions=@cse/source', '--import', 'tsx', child, url, String(CLIENTS), String(INCREMENTS)], { timeout: 120_000 }),
      ),
    );
    const perClient = outputs.flatMap((o) => JSON.parse(o.stdout) as number[][]);
    const total = PROCESSES * CLIENTS * INCREMENTS;

    expect(perClient).toHaveLength(PROCESSES * CLIENTS);
    for (const ids of perClient) expect(ids).toEqual([...ids].sort((a, b) => a - b));
    const all = perClient.flat();
    expect(new Set(all).size).toBe(total);
    const counter = await store.get('counters', 'shared');
    expect(counter).toMatchObject({ n: total, _version: total + 1 });
    // the insert took id 1; every accepted update took exactly one more
    expect(await store.lastSyncId()).toBe(total + 1);
    expect(Math.max(...all)).toBe(total + 1);
    await store.close();
  });
});
