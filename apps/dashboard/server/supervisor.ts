/**
 * Keeps one child process running: restarts it after `restartDelayMs` when it exits on its own
 * (a crash, a kill), and stops it with SIGTERM (SIGKILL after `killAfterMs`) on `stop()`.
 */
import type { ChildProcess } from 'node:child_process';

export interface SupervisorOptions {
  readonly name: string;
  /** Starts the process (again). */
  readonly spawn: () => ChildProcess;
  readonly restartDelayMs: number;
  readonly killAfterMs?: number;
  readonly log: (line: string) => void;
}

export class Supervisor {
  readonly name: string;
  readonly #opts: SupervisorOptions;
  #child: ChildProcess | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopping = false;
  #starts = 0;
  readonly #startListeners = new Set<(child: ChildProcess, starts: number) => void>();

  constructor(options: SupervisorOptions) {
    this.name = options.name;
    this.#opts = options;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Runs `listener` each time the process is (re)started. */
  onStart(listener: (child: ChildProcess, starts: number) => void): void {
    this.#startListeners.add(listener);
  }

  start(): void {
    if (this.#stopping) return;
    if (this.#starts === 0) {
      // Whatever ends this process (an uncaught error included), the child does not outlive it.
      process.once('exit', () => this.#child?.kill('SIGKILL'));
    }
    const child = this.#opts.spawn();
    this.#child = child;
    this.#starts++;
    for (const l of this.#startListeners) l(child, this.#starts);
    child.once('exit', (code, signal) => {
      if (this.#child === child) this.#child = undefined;
      if (this.#stopping) return;
      // Said when the restart happens, so a stop that comes meanwhile (Ctrl-C reaches every process) says nothing.
      this.#timer = setTimeout(() => {
        this.#opts.log(`${this.name} exited (${signal ?? `code ${code}`}); restarting it`);
        this.start();
      }, this.#opts.restartDelayMs);
    });
  }

  /** Stops the process and does not restart it. */
  async stop(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#timer);
    const child = this.#child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), this.#opts.killAfterMs ?? 5000);
    await exited;
    clearTimeout(timer);
  }
}
