import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('the bench smoke run (node bench/run.js --quick, as npm test runs it)', () => {
  it('prints no target verdicts: a smoke run does not judge targets', () => {
    if (!existsSync(`${root}/packages/core/dist/index.js`)) throw new Error('the bench runs on dist/: run npm run build (npm test does) first');
    const r = spawnSync(process.execPath, ['bench/run.js', '--quick', '--no-save', '--only', 'memory'], { cwd: root, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/not judged \(smoke run\)/);
    expect(r.stdout).not.toMatch(/MISSED|: met\b/);
  });
});
