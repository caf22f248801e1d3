/**
 * The command itself: exit codes 0 / 1 / 2, the table, the JSON report, and that the printed
 * replay command reproduces a failure (one group here, the others in cli-replay.test.ts, so the
 * two files run side by side). The runs of this file are independent: they run concurrently.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, it } from 'vitest';
import type { Report } from '../src/cli/report.js';
import { cli, shellWords, violation } from './spawn-cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'cse-cli-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.concurrent('cse-conformance', () => {
  it('exits 0 on a passing adapter, prints the table and writes the JSON report', async ({ expect }) => {
    const json = join(tmp, 'pass.json');
    const r = await cli(['--adapter', 'memory', '--runs', '3', '--only', 'sync-ids', '--seed', '7', '--json', json]);
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).toMatch(/1\. Sync ids\s+passed\s+3\s+0\s+1/);
    expect(r.out).toContain('adapter does not declare persistent');
    expect(r.out).toContain('PASS: 3 passed, 0 failed, 1 skipped');
    const report = JSON.parse(readFileSync(json, 'utf8')) as Report;
    expect(report).toMatchObject({ adapter: 'memory', seed: 7, runs: 3, ok: true, summary: { passed: 3, failed: 0, skipped: 1 } });
    expect(report.groups.map((g) => g.id)).toEqual(['sync-ids']);
    const skipped = report.groups[0]?.checks.find((c) => c.status === 'skipped');
    expect(skipped).toMatchObject({ number: 3, reason: 'adapter does not declare persistent' });
  });

  // One run checked for everything a failure prints, and its replay for what a replay must do
  // (this is also the sync-ids row of cli-replay.test.ts).
  it('exits 1 on a broken adapter, with the counterexample and a replay command that reproduces it exactly as printed', async ({ expect }) => {
    const json = join(tmp, 'fail.json');
    const r = await cli(['--adapter', 'test/broken/restart-ids.ts', '--runs', '10', '--only', 'sync-ids', '--json', json]);
    expect(r.code, r.out + r.err).toBe(1);
    expect(r.out).toContain('Failures:');
    expect(r.out).toMatch(/counterexample: /);
    const report = JSON.parse(readFileSync(json, 'utf8')) as Report;
    expect(report.ok).toBe(false);
    const failed = report.groups.flatMap((g) => g.checks).find((c) => c.status === 'failed');
    expect(failed?.error?.seed).toEqual(expect.any(Number));
    expect(failed?.error?.counterexample).toBeTruthy();
    expect(failed?.replay).toMatch(/^cse-conformance --adapter test\/broken\/restart-ids\.ts --only sync-ids\/3 --seed -?\d+ --path \S+ --runs 10$/);
    expect(r.out).toContain(`replay: ${failed?.replay ?? '?'}`);
    const json2 = join(tmp, 'fail-again.json');
    const again = await cli([...shellWords(failed?.replay ?? '').slice(1), '--json', json2]);
    expect(again.code, again.out + again.err).toBe(1);
    expect(again.out).not.toContain('Unable to replay');
    expect(again.out).toContain(`seed: ${failed?.error?.seed ?? '?'}`);
    expect(again.out).toContain('1 failed');
    const failedAgain = (JSON.parse(readFileSync(json2, 'utf8')) as Report).groups.flatMap((g) => g.checks).find((c) => c.status === 'failed');
    expect(violation(failedAgain?.error?.message ?? '')).toBe(violation(failed?.error?.message ?? ''));
    expect(failedAgain?.error?.counterexample).toBe(failed?.error?.counterexample);
  });

  it('a factory module without `open` is a usage error (exit 2)', async ({ expect }) => {
    const r = await cli(['--adapter', 'test/broken/sqlite-broken.ts', '--only', 'sync-ids']);
    expect(r.code, r.out + r.err).toBe(2);
    expect(r.err).toMatch(/exports no function "open"/);
  });

  it('exits 2 on usage errors, saying what is wrong', async ({ expect }) => {
    const cases: [string[], RegExp, Record<string, string | undefined>?][] = [
      [[], /--adapter is required/],
      [['--adapter', 'memory', '--bogus'], /Unknown option '--bogus'/],
      [['--adapter', './no/such/file.js'], /no such file/],
      [['--adapter', 'no-such-adapter-package'], /not a built-in adapter/],
      [['--adapter', 'memory', '--only', 'nope'], /no group "nope"/],
      [['--adapter', 'memory', '--only', 'sync-ids/99'], /has checks 1-4/],
      [['--adapter', 'memory', '--runs', '0'], /--runs must be an integer of at least 1/],
      [['--adapter', 'memory', '--path', '1:2'], /needs its --seed/],
      [['--adapter', 'redis'], /needs REDIS_URL/, { REDIS_URL: undefined }],
      [['--adapter', 'sqlite', '--browser'], /does not run in a browser/],
      [['--adapter', 'memory', '--fake'], /--fake applies to --adapter indexeddb/],
      [['--adapter', 'indexeddb', '--fake', '--browser'], /pass one of them/],
    ];
    // Each case is a process of its own (the command exits on the first error); four at a time.
    const runs: Awaited<ReturnType<typeof cli>>[] = [];
    for (let i = 0; i < cases.length; i += 4) runs.push(...(await Promise.all(cases.slice(i, i + 4).map(([args, , env]) => cli(args, env)))));
    cases.forEach(([args, message], i) => {
      const r = runs[i] as Awaited<ReturnType<typeof cli>>;
      expect(r.code, `${args.join(' ')}: ${r.out}${r.err}`).toBe(2);
      expect(r.err).toMatch(message);
      expect(r.err).toContain('Usage: cse-conformance');
    });
  });

  it('--list names every group and numbers its checks', async ({ expect }) => {
    const r = await cli(['--list']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('sync-ids  (1. Sync ids)');
    expect(r.out).toContain('crash/1');
  });
});
