// Keeps the root README honest: its TypeScript examples run as written (on SQLite in a temp dir).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';

const readme = readFileSync(fileURLToPath(new URL('../../../README.md', import.meta.url)), 'utf8');
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] as string);
const dir = mkdtempSync(join(tmpdir(), 'cse-readme-'));
// The script must live inside the workspace so that it resolves the @cse packages.
const scratch = fileURLToPath(new URL('../.cse-tmp/', import.meta.url));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
});

it('the README has a quick start and a Store example', () => {
  expect(blocks.length).toBeGreaterThanOrEqual(2);
  expect(blocks[0]).toContain('saveObserved');
});

it('the README quick start and Store example run as written', () => {
  // The Store example continues the quick start's store, so run them as one script (the quick
  // start closes the store at its end: move that close to the very end).
  const [quick, more] = blocks as [string, string];
  const script = quick.replace('await store.close();\n', '') + more + '\nawait store.close();\nconsole.log("README OK");\n';
  mkdirSync(scratch, { recursive: true });
  const file = join(scratch, 'quick-start.mts');
  writeFileSync(file, script.replaceAll('./edge.db', join(dir, 'edge.db')));
  const out = execFileSync(process.execPath, ['--conditions=@cse/source', '--import', 'tsx', file], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(out).toContain('README OK');
});

it('the README Edge and Frontend example runs as written', () => {
  const sync = blocks.find((b) => b.includes('FrontendSync'));
  expect(sync).toBeDefined();
  mkdirSync(scratch, { recursive: true });
  const file = join(scratch, 'sync.mts');
  const script = (sync as string).replaceAll('./edge.db', join(dir, 'sync-edge.db')).replaceAll('./replica.db', join(dir, 'replica.db'));
  writeFileSync(file, script);
  const out = execFileSync(process.execPath, ['--conditions=@cse/source', '--import', 'tsx', file], { encoding: 'utf8', timeout: 60_000 });
  expect(out.trim().split('\n')).toEqual(['running', 'stopped']);
});
