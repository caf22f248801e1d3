import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * `npm test` runs the bench smoke here, inside Vitest's pool, rather than as a step before it: it
 * then overlaps with test files that wait on child processes, Chromium or a server. It checks that
 * every workload runs on every adapter, not how fast (a smoke run judges no targets).
 */
describe('the bench smoke run (node bench/run.js --quick --no-save)', () => {
  // The bound only ends a hung run: bench/run.js gives each suite 10 minutes in a --quick run.
  it('runs every workload on every adapter and prints no target verdicts', { timeout: 1_800_000 }, async () => {
    if (!existsSync(`${root}/packages/core/dist/index.js`)) throw new Error('the bench runs on dist/: run npm run build (npm test does) first');
    const child = spawn(process.execPath, ['bench/run.js', '--quick', '--no-save'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', resolve);
    });
    expect(code, `${err}\n${out.slice(-4000)}`).toBe(0);
    expect(out).toMatch(/not judged \(smoke run\)/);
    expect(out).not.toMatch(/MISSED|: met\b/);
    // the progress lines go to stderr, the tables to stdout
    for (const adapter of ['memory', 'sqlite', 'level', 'redis', 'indexeddb']) expect(err, adapter).toContain(`[${adapter}]`);
    for (const workload of ['[sync] S1', '[relay] S2', '[commits]']) expect(err, workload).toContain(workload);
  });
});
