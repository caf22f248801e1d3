/**
 * What `runConformance` (and every group function) takes.
 *
 * ```ts
 * import { runConformance } from '@cse/conformance';
 * import { MyAdapter } from '../src/index.js';
 *
 * runConformance({
 *   name: 'my-adapter',
 *   open: (storeName, { dir }) => new MyAdapter({ path: `${dir}/${storeName}` }),
 *   module: new URL('./factory.ts', import.meta.url).pathname,
 * });
 * ```
 */
import type { AdapterCapabilities, StorageAdapter } from '@cse/core';

/** Where the adapter under test may keep its data for this run. */
export interface OpenContext {
  /**
   * A fresh directory the suite creates for this run (and removes afterwards). Child processes
   * get it as the environment variable `CSE_CONFORMANCE_DIR`. In a browser it is only a unique
   * name (there is no file system), still usable as a database-name prefix.
   */
  readonly dir: string;
}

/**
 * Opens, or reopens, the store called `storeName`. Two calls with the same name in one run must
 * reach the same data when the adapter is `persistent`; different names must be isolated stores
 * (guarantee 9). Names the suite uses match `/^[a-z][a-z0-9-]{0,62}$/`.
 */
export type OpenAdapter = (storeName: string, ctx: OpenContext) => StorageAdapter | Promise<StorageAdapter>;

export interface ConformanceOptions {
  /** The adapter's label in test titles and reports. */
  readonly name: string;
  /** The factory. The suite closes every adapter it opens. */
  readonly open: OpenAdapter;
  /**
   * Absolute path (or `file:` URL) of an ES module that exports the same `open` (a `.ts` file
   * works: children then run under `tsx`). It enables the groups that need child processes
   * (crash safety, multi-process); without it they are reported as skipped with that reason.
   */
  readonly module?: string;
  /**
   * Expected capabilities. Normally the suite reads them from the adapter. A flag given here may
   * turn a declared capability off for this run (its tests are then skipped, with that reason);
   * claiming one the adapter does not declare fails the capabilities group.
   */
  readonly capabilities?: Partial<AdapterCapabilities>;
  /**
   * fast-check settings. Defaults: a random seed (printed on failure) and 25 runs per model-based
   * property (other properties scale from it). Environment variables `CSE_CONFORMANCE_SEED`,
   * `CSE_CONFORMANCE_RUNS` and `CSE_CONFORMANCE_PATH` override them, so a failure can be
   * replayed without editing code.
   */
  readonly fc?: { readonly seed?: number; readonly numRuns?: number; readonly path?: string };
  /**
   * Only these groups (`group`) or checks (`group/number` or `group/name`); default: all. The
   * environment variable `CSE_CONFORMANCE_ONLY` (comma separated) overrides it.
   */
  readonly only?: readonly string[];
}

/** Default runs of the model-based property; the others are scaled from it. */
export const DEFAULT_RUNS = 25;

function env(name: string): string | undefined {
  const p = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  const v = p?.env?.[name];
  return v === undefined || v === '' ? undefined : v;
}

function intFrom(raw: string | undefined, what: string): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw new Error(`${what} must be an integer, got ${JSON.stringify(raw)}`);
  return n;
}

/** The options after defaults and environment overrides. */
export interface ResolvedSettings {
  /** Fixed seed, or `undefined` for a fresh random seed per property (it is printed on failure). */
  readonly seed: number | undefined;
  readonly numRuns: number;
  /** fast-check replay path; only meaningful with `seed` and one selected property. */
  readonly path: string | undefined;
  /** fast-check `replayPath` of a shrunk command sequence (`CSE_CONFORMANCE_COMMANDS_PATH`). */
  readonly commandsPath: string | undefined;
  /** `group` or `group/check` filter (`CSE_CONFORMANCE_ONLY`, comma separated). */
  readonly only: readonly string[];
}

export function resolveSettings(options: ConformanceOptions): ResolvedSettings {
  const seed = intFrom(env('CSE_CONFORMANCE_SEED'), 'CSE_CONFORMANCE_SEED') ?? options.fc?.seed;
  const numRuns = intFrom(env('CSE_CONFORMANCE_RUNS'), 'CSE_CONFORMANCE_RUNS') ?? options.fc?.numRuns ?? DEFAULT_RUNS;
  if (numRuns < 1) throw new Error(`numRuns must be at least 1, got ${numRuns}`);
  const path = env('CSE_CONFORMANCE_PATH') ?? options.fc?.path;
  const fromEnv = env('CSE_CONFORMANCE_ONLY');
  const only = (fromEnv === undefined ? (options.only ?? []) : fromEnv.split(',')).map((s) => s.trim()).filter((s) => s !== '');
  const commandsPath = env('CSE_CONFORMANCE_COMMANDS_PATH');
  return { seed, numRuns, path, commandsPath, only };
}

export function checkOptions(options: ConformanceOptions): void {
  if (options === null || typeof options !== 'object') throw new TypeError('runConformance needs an options object');
  if (typeof options.name !== 'string' || options.name === '') throw new TypeError('options.name must be a non-empty string');
  if (typeof options.open !== 'function') throw new TypeError('options.open must be a function (storeName, { dir }) => StorageAdapter');
  if (options.module !== undefined && typeof options.module !== 'string') throw new TypeError('options.module must be a path string');
  if (options.only !== undefined && (!Array.isArray(options.only) || !options.only.every((o) => typeof o === 'string'))) {
    throw new TypeError('options.only must be an array of strings');
  }
}
