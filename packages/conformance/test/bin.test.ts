import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));

describe('the cse-conformance bin', () => {
  it('points at a file kept in git (not in dist/), so npm links it at install time, before any build', () => {
    const pkg = JSON.parse(readFileSync(`${pkgDir}/package.json`, 'utf8')) as { bin: Record<string, string>; files: string[] };
    const bin = pkg.bin['cse-conformance'];
    expect(bin).toBeDefined();
    expect(bin).not.toMatch(/dist\//);
    const file = `${pkgDir}/${bin}`;
    expect(existsSync(file)).toBe(true);
    expect(statSync(file).mode & 0o111).not.toBe(0);
    expect(readFileSync(file, 'utf8').startsWith('#!/usr/bin/env node')).toBe(true);
    expect(() => execFileSync('git', ['ls-files', '--error-unmatch', bin as string], { cwd: pkgDir, stdio: 'pipe' })).not.toThrow();
    expect(pkg.files).toContain((bin as string).replace(/^\.\//, '').split('/')[0]);
  });

  it('runs the built command', () => {
    const r = spawnSync(process.execPath, [`${pkgDir}/bin/cse-conformance.js`, '--help'], { encoding: 'utf8' });
    if (!existsSync(`${pkgDir}/dist/cli.js`)) {
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/not built/);
      return;
    }
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/--adapter/);
  });
});
