/**
 * The test file `cse-conformance --browser` hands to Vitest browser mode. A page has no
 * `process.env`, so the command provides the run's settings (`provide`) and this file reads them
 * with `inject`, loads the factory module by a URL the Vite server serves, and registers the suite.
 */
import { inject } from 'vitest';
import { runConformance } from '../index.js';
import type { OpenAdapter } from '../options.js';

/** What the command provides to the page. */
export interface BrowserRun {
  /** The factory module as the page imports it (`/@fs/<absolute path>`). */
  readonly url: string;
  /** The factory module as the user named it (child-process groups report why they skip). */
  readonly module: string;
  readonly name: string;
  readonly seed: number;
  readonly runs: number;
  readonly only: readonly string[];
  readonly path: string | undefined;
}

declare module 'vitest' {
  export interface ProvidedContext {
    cseConformance: BrowserRun;
  }
}

const run = inject('cseConformance');
const loaded = (await import(/* @vite-ignore */ run.url)) as { open?: unknown; default?: unknown };
const open = loaded.open ?? (loaded.default as { open?: unknown } | undefined)?.open ?? loaded.default;
if (typeof open !== 'function') throw new Error(`${run.module} exports no function "open" (storeName, { dir }) => StorageAdapter`);

runConformance({
  name: run.name,
  open: open as OpenAdapter,
  module: run.module,
  only: run.only,
  fc: { seed: run.seed, numRuns: run.runs, ...(run.path === undefined ? {} : { path: run.path }) },
});
