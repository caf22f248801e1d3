// Keeps the root README's encrypted-channel example honest: it runs as written (a relay, an Edge
// on SQLite and a Frontend, in one process, files in a temp dir), like adapter-sqlite's README test.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';

const readme = readFileSync(fileURLToPath(new URL('../../../README.md', import.meta.url)), 'utf8');
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] as string);
const dir = mkdtempSync(join(tmpdir(), 'cse-readme-secure-'));
// The script must live inside the workspace so that it resolves the @cse packages.
const scratch = fileURLToPath(new URL('../.cse-tmp/', import.meta.url));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
});

it('the README encrypted-channel example runs as written', () => {
  const sample = blocks.find((b) => b.includes('SecureFrontend.open'));
  expect(sample, 'a README example with SecureFrontend.open').toBeDefined();
  mkdirSync(scratch, { recursive: true });
  const file = join(scratch, 'secure-channel.mts');
  writeFileSync(file, (sample as string).replaceAll('./secure-edge.db', join(dir, 'edge.db')).replaceAll('./secure-replica.db', join(dir, 'replica.db')));
  const out = execFileSync(process.execPath, ['--conditions=@cse/source', '--import', 'tsx', file], { encoding: 'utf8', timeout: 60_000 });
  expect(out.trim().split('\n')).toEqual(['running']);
});
