// The launcher (`server/start.ts`, what `npm start` runs) as the dashboard's tests start it:
// from source, in its own process group, with its banner parsed.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright';
import { afterAll, beforeAll } from 'vitest';
import { TriangularStore, openStore } from '@cse/core';
import type { Store } from '@cse/core';
import { SqliteAdapter } from '@cse/adapter-sqlite';
import { WORKER_TYPE, machineRegistry } from '../shared/machines.js';
import { buildPage, launchChromium } from '../../../test-support/chromium.js';
import { until as waitUntil } from '../../../test-support/until.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const app = resolve(here, '..');
const repo = resolve(app, '../..');
/** Every launcher started here that has not exited yet (afterAll kills what is left). */
export const running = new Set<ChildProcess>();

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** The dashboard's waits: its processes and the page may answer with an error while they start. */
export const until = <T>(what: string, f: () => Promise<T | undefined | false>): Promise<T> => waitUntil(what, f, { everyMs: 100, retryErrors: true });

export interface Started {
  proc: ChildProcess;
  out: () => string;
  url: string;
  edgePid: number;
  relayPid: number;
  edgeId: string;
  exited: Promise<number | null>;
}

/** Runs the launcher from source (as `npm start` runs its build) and waits for its banner. */
export async function start(args: string[]): Promise<Started> {
  // Its own process group, as in a terminal: Ctrl-C is a SIGINT to the whole group.
  const proc = spawn(process.execPath, ['--conditions=@cse/source', '--import', 'tsx', join(app, 'server/start.ts'), ...args], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  running.add(proc);
  let out = '';
  proc.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  proc.stderr?.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  void exited.then(() => running.delete(proc));
  const banner = await until('the launcher to print the dashboard URL', async () => {
    if (proc.exitCode !== null) throw new Error(`the launcher exited: ${out}`);
    const url = /Open the dashboard: (\S+)/.exec(out)?.[1];
    const edgePid = /1\. Edge .* pid (\d+)/.exec(out)?.[1];
    const relayPid = /2\. Relay\s+pid (\d+)/.exec(out)?.[1];
    const edgeId = /CSE is running\. Edge (\S+)/.exec(out)?.[1];
    return url !== undefined && edgePid !== undefined && relayPid !== undefined && edgeId !== undefined && { url, edgePid: Number(edgePid), relayPid: Number(relayPid), edgeId };
  });
  return { proc, out: () => out, ...banner, exited };
}

export /** What Ctrl-C in the terminal does: SIGINT to the launcher and its children. */
function ctrlC(proc: ChildProcess): void {
  process.kill(-(proc.pid as number), 'SIGINT');
}


/** Kills what is left of every launcher (its whole process group). */
export function killAll(): void {
  for (const p of running) {
    try {
      process.kill(-(p.pid as number), 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** A launcher started for a test file, with the page built, the Edge's store open beside it and a browser. */
export interface Dashboard {
  readonly dir: string;
  readonly run: Started;
  /** The Edge's SQLite file, opened by another connection (as `cse-edge` in another process would). */
  readonly edgeStore: Store;
  readonly browser: Browser;
  /** A machine's Desired document on the Edge, read from its SQLite file by that other connection. */
  edgeDesired(id: string): Promise<Record<string, unknown> | undefined>;
  /** Ctrl-C to the launcher, then everything closed and the folder removed. */
  stop(): Promise<void>;
}

/** `startDashboard` before the file's tests and its `stop` after them; the tests get it from the returned function. */
export function useDashboard(prefix: string, workers: number): () => Dashboard {
  let dashboard: Dashboard | undefined;
  beforeAll(async () => {
    dashboard = await startDashboard(prefix, workers);
  }, 300_000);
  afterAll(async () => {
    await dashboard?.stop();
    killAll();
  });
  return () => {
    if (dashboard === undefined) throw new Error('the dashboard did not start (see beforeAll)');
    return dashboard;
  };
}

/**
 * Builds the page, starts the launcher with `workers` machines on a temp folder and free ports (no
 * failures, no HMI edits: the only changes of a desired state are the test's), opens the Edge's
 * store and a headless Chromium.
 */
export async function startDashboard(prefix: string, workers: number): Promise<Dashboard> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  mkdirSync(join(app, 'test-artifacts'), { recursive: true });
  const web = join(dir, 'web');
  await buildPage(join(app, 'web'), web, { base: './' });
  const data = join(dir, 'data');
  const run = await start(['--data', data, '--port', String(await freePort()), '--relay-port', String(await freePort()), '--workers', String(workers), '--tick-ms', '2000', '--fail-rate', '0', '--hmi-rate', '0', '--web', web]);
  const edgeStore = openStore(new SqliteAdapter({ path: join(data, 'edge.db') }));
  const browser = await launchChromium();
  return {
    dir,
    run,
    edgeStore,
    browser,
    edgeDesired: (id) => new TriangularStore(edgeStore, machineRegistry()).loadDesired(WORKER_TYPE, id),
    stop: async () => {
      await browser.close();
      await edgeStore.close();
      ctrlC(run.proc);
      await run.exited;
      killAll();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
