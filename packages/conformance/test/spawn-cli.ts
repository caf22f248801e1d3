/** Runs `cse-conformance` from its sources (under tsx), as a user would run the built command. */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const pkg = fileURLToPath(new URL('..', import.meta.url));

export function cli(args: string[], env: Record<string, string | undefined> = {}): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--conditions=@cse/source', '--import', 'tsx', 'src/cli.ts', ...args], {
    cwd: pkg,
    encoding: 'utf8',
    env: { ...process.env, CSE_CONFORMANCE_SEED: undefined, CSE_CONFORMANCE_RUNS: undefined, CSE_CONFORMANCE_ONLY: undefined, ...env },
    timeout: 300_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
