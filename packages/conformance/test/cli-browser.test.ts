/**
 * The command's browser runs: the built-in IndexedDB adapter and a third party's factory module
 * (`--browser`) in real headless Chromium, and the exit code and hint when Chromium is missing.
 * Chromium is a prerequisite of this file, as of the IndexedDB adapter's browser tests: missing,
 * the runs fail with the install hint, never skip.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Report } from '../src/cli/report.js';
import { cli } from './spawn-cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'cse-cli-browser-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const HINT = "install Debian's chromium: apt-get install chromium (or pass --chromium / CHROMIUM_PATH)";

describe('cse-conformance in headless Chromium', () => {
  it('--adapter indexeddb runs the suite on the page’s IndexedDB, with the same table and JSON report', async () => {
    const json = join(tmp, 'indexeddb.json');
    const r = await cli(['--adapter', 'indexeddb', '--runs', '3', '--seed', '11', '--only', 'sync-ids,atomicity,multi-process', '--json', json]);
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).toContain('cse-conformance: indexeddb in headless Chromium (seed 11, base 3 runs per property');
    expect(r.out).toMatch(/✓ 1\. Sync ids › every accepted write takes a new, larger id/);
    expect(r.out).toContain('PASS: 9 passed, 0 failed, 1 skipped');
    const report = JSON.parse(readFileSync(json, 'utf8')) as Report;
    expect(report).toMatchObject({ adapter: 'indexeddb', seed: 11, runs: 3, ok: true, errors: [], summary: { passed: 9, failed: 0, skipped: 1 } });
    expect(report.groups.map((g) => [g.id, g.status])).toEqual([
      ['sync-ids', 'passed'],
      ['atomicity', 'passed'],
      ['multi-process', 'skipped'],
    ]);
    // IndexedDB declares multiProcess, so the group is skipped only for want of child processes.
    expect(report.groups[2]?.checks[0]).toMatchObject({ status: 'skipped', reason: 'needs Node child processes' });
  });

  it('--browser certifies a factory module in Chromium; a failure prints a replay command that keeps --browser', async () => {
    const json = join(tmp, 'broken.json');
    const r = await cli(['--adapter', 'test/broken/restart-ids.ts', '--browser', '--runs', '5', '--only', 'sync-ids/3', '--json', json]);
    expect(r.code, r.out + r.err).toBe(1);
    expect(r.out).toContain('in headless Chromium');
    expect(r.out).toMatch(/counterexample: /);
    const report = JSON.parse(readFileSync(json, 'utf8')) as Report;
    const failed = report.groups[0]?.checks[0];
    expect(failed).toMatchObject({ number: 3, status: 'failed', error: { seed: expect.any(Number) } });
    expect(failed?.replay).toMatch(/^cse-conformance --adapter test\/broken\/restart-ids\.ts --browser --only sync-ids\/3 --seed -?\d+ --path \S+ --runs 5$/);
  });

  it('exits 2 with the install hint when Chromium is missing (--chromium or CHROMIUM_PATH)', async () => {
    const runs = await Promise.all([
      cli(['--adapter', 'indexeddb', '--chromium', '/nonexistent/chromium']),
      cli(['--adapter', 'indexeddb'], { CHROMIUM_PATH: '/nonexistent/chromium' }),
    ]);
    for (const r of runs) {
      expect(r.code, r.out + r.err).toBe(2);
      expect(r.err).toContain('no Chromium at /nonexistent/chromium');
      expect(r.err).toContain(HINT);
      expect(r.out).toBe('');
    }
  });
});
