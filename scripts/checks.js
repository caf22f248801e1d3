#!/usr/bin/env node
// npm test's static checks: the linter and the type checks at once. ESLint (type-aware) keeps one
// core busy for most of a minute and the per-package type checks the other, so together they take
// about as long as the slower alone. Each one's output is printed whole when it ends; the exit code
// is non-zero when any failed.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);

const checks = [
  { name: 'lint (eslint .)', cmd: bin('eslint'), args: ['.'] },
  { name: 'typecheck (turbo run typecheck, then tsc -p tsconfig.json)', cmd: 'sh', args: ['-c', `"${bin('turbo')}" run typecheck --output-logs=errors-only && "${bin('tsc')}" -p tsconfig.json`] },
];

function run({ name, cmd, args }) {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (out += d));
    child.once('error', (e) => resolve({ name, ok: false, out: `${out}${e.message}\n`, s: 0 }));
    child.once('close', (code) => resolve({ name, ok: code === 0, out, s: (Date.now() - started) / 1000 }));
  });
}

const results = await Promise.all(checks.map(run));
for (const r of results) {
  process.stdout.write(`${r.ok ? 'ok  ' : 'FAIL'} ${r.name} (${r.s.toFixed(0)} s)\n`);
  if (!r.ok || r.out.trim() !== '') process.stdout.write(r.out.endsWith('\n') || r.out === '' ? r.out : `${r.out}\n`);
}
process.exitCode = results.every((r) => r.ok) ? 0 : 1;
