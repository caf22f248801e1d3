/**
 * Runs `cse-conformance` from its sources (under tsx), as a user would run the built command.
 * Asynchronous, so that a test file can run several at once: a run spends most of its time
 * starting Node, tsx and Vitest, which leaves a core idle while another run computes.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const pkg = fileURLToPath(new URL('..', import.meta.url));

export interface CliRun {
  readonly code: number | null;
  readonly out: string;
  readonly err: string;
}

export function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<CliRun> {
  const child = spawn(process.execPath, ['--conditions=@cse/source', '--import', 'tsx', 'src/cli.ts', ...args], {
    cwd: pkg,
    env: { ...process.env, CSE_CONFORMANCE_SEED: undefined, CSE_CONFORMANCE_RUNS: undefined, CSE_CONFORMANCE_ONLY: undefined, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  // A hung run is ended by the test's own timeout; this one only keeps it from outliving it.
  const timer = setTimeout(() => child.kill('SIGKILL'), 1_100_000);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

/** Splits a command line as a POSIX shell does for the quoting `quoteArg` produces. */
export function shellWords(line: string): string[] {
  const out: string[] = [];
  for (const m of line.matchAll(/'((?:[^']|'\\'')*)'|(\S+)/g)) out.push(m[1] !== undefined ? m[1].replace(/'\\''/g, "'") : (m[2] as string));
  return out;
}

/** The violation line of a failure message (what a replay must reproduce). */
export const violation = (message: string): string => /violation: (.*)/.exec(message)?.[1] ?? message;
