import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const entry = fileURLToPath(new URL('../src/index.ts', import.meta.url));

describe('the package entry in a browser bundle', () => {
  it('bundles for the browser platform without Node built-ins or classic-level', async () => {
    const result = await build({
      entryPoints: [entry],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      conditions: ['@cse/source'],
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    expect(result.errors).toEqual([]);
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.filter((f) => /classic-level|node-gyp-build|napi-macros/.test(f))).toEqual([]);
    const text = result.outputFiles[0]!.text;
    // No static import of anything Node-only: classic-level and node:path load at run time, only for `location`.
    expect(text).not.toMatch(/from\s*["'](node:|classic-level)/);
    expect(text).not.toMatch(/require\(["'](node:|classic-level|path)/);
  });
});
