/**
 * Starting child processes from the suite. Node modules are loaded lazily, so that importing the
 * suite in a browser never touches them (the groups that need children are skipped there).
 *
 * From sources (this file is `.ts`, under vitest) the child runs as TypeScript through tsx with
 * the `@cse/source` condition; from the built package it runs as plain JavaScript. A `.ts`
 * factory module also needs tsx, which must then be installed where the suite runs.
 */
import type { ChildConfig, ChildMessage } from './protocol.js';

export interface Child {
  /** Messages received so far, in order. */
  readonly messages: ChildMessage[];
  /** Resolves when the child exits (code, or the signal that killed it). */
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  /** Everything the child wrote to stderr so far. */
  stderr(): string;
  /** Resolves when `predicate` holds for the messages received (rejects if the child exits first). */
  until(predicate: (messages: readonly ChildMessage[]) => boolean, what: string): Promise<void>;
  kill(): void;
}

/** Starts the child with `config`; `CSE_CONFORMANCE_DIR` is set to `config.dir`. */
export async function spawnChild(config: ChildConfig): Promise<Child> {
  const { spawn } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const fromSource = import.meta.url.endsWith('.ts');
  const script = fileURLToPath(new URL(fromSource ? './child.ts' : './child.js', import.meta.url));
  const needsTsx = fromSource || /\.[mc]?ts$/.test(config.module);
  const args = [...(fromSource ? ['--conditions=@cse/source'] : []), ...(needsTsx ? ['--import', 'tsx'] : []), script, JSON.stringify(config)];
  const proc = spawn(process.execPath, args, {
    env: { ...process.env, CSE_CONFORMANCE_DIR: config.dir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const messages: ChildMessage[] = [];
  const waiters = new Set<() => void>();
  let err = '';
  let buffer = '';
  let done = false;
  proc.stderr.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  proc.stdout.setEncoding('utf8').on('data', (d: string) => {
    buffer += d;
    const lines = buffer.split('\n');
    buffer = lines.pop() ?? '';
    for (const line of lines) {
      if (line.trim() === '') continue;
      try {
        messages.push(JSON.parse(line) as ChildMessage);
      } catch {
        err += `(unparsable stdout line) ${line}\n`;
      }
    }
    for (const w of [...waiters]) w();
  });
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    proc.on('exit', (code, signal) => {
      done = true;
      for (const w of [...waiters]) w();
      resolve({ code, signal });
    });
  });
  return {
    messages,
    exited,
    stderr: () => err,
    kill: () => {
      if (!done) proc.kill('SIGKILL');
    },
    until: (predicate, what) =>
      new Promise<void>((resolve, reject) => {
        const check = (): void => {
          const failed = messages.find((m) => m.t === 'error');
          if (failed && failed.t === 'error') {
            waiters.delete(check);
            reject(new Error(`the child failed: ${failed.message}\n${err}`));
          } else if (predicate(messages)) {
            waiters.delete(check);
            resolve();
          } else if (done) {
            waiters.delete(check);
            const hint =
              needsTsx && /Cannot find (package|module) 'tsx'/.test(err)
                ? `\nThe factory module ${config.module} is TypeScript, so child processes run under tsx: npm install --save-dev tsx (or pass a .js module).`
                : '';
            reject(new Error(`the child exited before ${what}${hint}\nstderr:\n${err}`));
          }
        };
        waiters.add(check);
        check();
      }),
  };
}

/** How long a child may take to reach what the parent waits for. Generous: tsx start-up on a busy machine. */
export const CHILD_TIMEOUT_MS = 60_000;

/** `p`, or a rejection naming `what` once `CHILD_TIMEOUT_MS` passes first. */
export async function withChildTimeout<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), CHILD_TIMEOUT_MS);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
