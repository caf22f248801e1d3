/**
 * The printed replay command of a failure, run as printed, fails the same way: one broken
 * adapter per group (sync-ids is in cli.test.ts). The runs follow one another: each shrinks a
 * counterexample within a time budget, which is the harness's to spend, not to share.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Report } from '../src/cli/report.js';
import { cli, shellWords, violation } from './spawn-cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'cse-cli-replay-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('cse-conformance replays', () => {
  // One broken adapter per group: the printed replay command, run as printed, fails the same way.
  const REPLAYS: [string, string, string][] = [
    ['model', 'test/broken/derive-counter.ts', 'model/1'],
    ['adapter-contract', 'test/broken/scan-drops-tombstones.ts', 'adapter-contract/2'],
    ['faithful-documents', 'test/broken/empty-arrays.ts', 'faithful-documents/1'],
  ];
  for (const [group, module, check] of REPLAYS) {
    it(`the replay command of a ${group} failure reproduces it exactly as printed`, async () => {
      const json = join(tmp, `replay-${group}.json`);
      const r = await cli(['--adapter', module, '--only', check, '--json', json]);
      expect(r.code, r.out + r.err).toBe(1);
      const failed = (JSON.parse(readFileSync(json, 'utf8')) as Report).groups.flatMap((g) => g.checks).find((c) => c.status === 'failed');
      const replay = failed?.replay ?? '';
      expect(replay).toMatch(new RegExp(`^cse-conformance --adapter ${module.replace(/[./]/g, '\\$&')} --only ${check} --seed -?\\d+ --path \\S+`));
      if (group === 'model') expect(replay).toMatch(/ --commands-path \S+/);
      expect(r.out).toContain(`replay: ${replay}`);
      const json2 = join(tmp, `replay-${group}-again.json`);
      const third = await cli([...shellWords(replay).slice(1), '--json', json2]);
      const failedAgain = (JSON.parse(readFileSync(json2, 'utf8')) as Report).groups.flatMap((g) => g.checks).find((c) => c.status === 'failed');
      expect(third.code, third.out + third.err).toBe(1);
      expect(third.out).not.toContain('Unable to replay');
      expect(violation(failedAgain?.error?.message ?? '')).toBe(violation(failed?.error?.message ?? ''));
      expect(failedAgain?.error?.counterexample).toBe(failed?.error?.counterexample);
    });
  }
});
