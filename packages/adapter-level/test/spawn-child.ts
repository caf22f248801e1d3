import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Starts `children/<name>.ts` in a new Node process that runs TypeScript and resolves @cse/* to sources. */
export function spawnChild(name: string, args: string[]): ChildProcessWithoutNullStreams {
  const file = fileURLToPath(new URL(`./children/${name}.ts`, import.meta.url));
  return spawn(process.execPath, ['--conditions=@cse/source', '--import', 'tsx', file, ...args], {
    cwd: fileURLToPath(new URL('../../..', import.meta.url)),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** Collects a child's output and its exit. */
export function collect(child: ChildProcessWithoutNullStreams): { stdout: () => string; stderr: () => string; exited: Promise<number | null> } {
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => resolve(code));
  });
  return { stdout: () => out, stderr: () => err, exited };
}
