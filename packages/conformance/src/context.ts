/**
 * The run of the suite against one adapter: the temp directory, the capabilities read from the
 * adapter, unique store names, and scopes that close every adapter they opened.
 */
import type { AdapterCapabilities, StorageAdapter, Store, StoreOptions } from '@cse/core';
import { MemoryAdapter, defineCapabilities, isCseError, openStore } from '@cse/core';
import type { ConformanceOptions, ResolvedSettings } from './options.js';
import { checkOptions, resolveSettings } from './options.js';
import { checkedAdapter } from './checked-adapter.js';
import type { ReplayCommand } from './property.js';
import { quoteArg } from './property.js';

export const CAPABILITY_FLAGS = ['persistent', 'crashSafe', 'multiProcess', 'compaction', 'changeFeed', 'sequencedChanges', 'indexes'] as const;
export type CapabilityFlag = (typeof CAPABILITY_FLAGS)[number];

/** True when running on Node (child processes, file system). */
export function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string';
}

/** A clock that starts at a fixed instant and moves 1 ms per call: timestamps compare exactly. */
export function tickingClock(start = Date.UTC(2024, 0, 1)): () => Date {
  let t = start;
  return () => new Date(t++);
}

function randomTag(): string {
  return Math.floor(Math.random() * 36 ** 6)
    .toString(36)
    .padStart(6, '0');
}

/** One run of the suite against one adapter (one `runConformance` call, or one `runGroups`). */
export class SuiteRun {
  readonly options: ConformanceOptions;
  readonly settings: ResolvedSettings;
  readonly tag = randomTag();
  #dir: Promise<string> | undefined;
  #caps: Promise<{ declared: Readonly<AdapterCapabilities>; effective: Readonly<AdapterCapabilities> }> | undefined;
  #counter = 0;
  #removeDir: (() => Promise<void>) | undefined;

  constructor(options: ConformanceOptions) {
    checkOptions(options);
    this.options = options;
    this.settings = resolveSettings(options);
  }

  /** The run's temp directory (created on first use). */
  dir(): Promise<string> {
    this.#dir ??= this.#makeDir();
    return this.#dir;
  }

  async #makeDir(): Promise<string> {
    if (!isNode()) return `cse-conformance-${this.tag}`;
    const fs = await import('node:fs/promises');
    const os = await import('node:os');
    const path = await import('node:path');
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cse-conformance-'));
    this.#removeDir = () => fs.rm(dir, { recursive: true, force: true, maxRetries: 3 });
    return dir;
  }

  /** A store name no other check of this run uses. */
  storeName(prefix: string): string {
    this.#counter += 1;
    const clean = prefix.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 30);
    return `${clean}-${this.tag}-${this.#counter}`;
  }

  /** Calls the factory and checks that it returned something adapter-shaped. */
  async openAdapter(storeName: string): Promise<StorageAdapter> {
    const adapter = await this.options.open(storeName, { dir: await this.dir() });
    if (adapter === null || typeof adapter !== 'object' || typeof adapter.commit !== 'function') {
      throw new Error(`open(${JSON.stringify(storeName)}) did not return a StorageAdapter`);
    }
    return checkedAdapter(adapter);
  }

  /** The adapter's declared capabilities, and the ones this run uses (after `options.capabilities`). */
  capabilities(): Promise<{ declared: Readonly<AdapterCapabilities>; effective: Readonly<AdapterCapabilities> }> {
    this.#caps ??= (async () => {
      const adapter = await this.openAdapter(this.storeName('probe'));
      try {
        const declared = adapter.capabilities;
        const given = this.options.capabilities ?? {};
        const effective = defineCapabilities(
          Object.fromEntries(CAPABILITY_FLAGS.map((f) => [f, declared?.[f] === true && given[f] !== false])) as Partial<AdapterCapabilities>,
        );
        return { declared, effective };
      } finally {
        await adapter.close();
      }
    })();
    return this.#caps;
  }

  /**
   * Where the checks run, for replay commands: the test file of a vitest run (set by
   * `registerGroups`), or `undefined` for a direct `runGroups` call.
   */
  testFile: string | undefined;

  /** The command that replays a failure of check `checkId` exactly as it was printed. */
  replayCommand(checkId: string, failure: { readonly seed: number; readonly path: string; readonly commandsPath?: string }): string {
    const env = [
      `CSE_CONFORMANCE_ONLY=${checkId}`,
      `CSE_CONFORMANCE_SEED=${failure.seed}`,
      `CSE_CONFORMANCE_RUNS=${this.settings.numRuns}`,
      ...(failure.path ? [`CSE_CONFORMANCE_PATH=${failure.path}`] : []),
      ...(failure.commandsPath ? [`CSE_CONFORMANCE_COMMANDS_PATH=${quoteArg(failure.commandsPath)}`] : []),
    ].join(' ');
    return this.testFile === undefined ? `${env} <the command that ran this suite>` : `${env} npx vitest run ${quoteArg(this.testFile)}`;
  }

  /** Removes the temp directory. */
  async dispose(): Promise<void> {
    await this.#removeDir?.();
  }
}

/**
 * What a check works with. Everything it opens through the scope is closed when the check (or
 * one run of a property) ends.
 */
export class Scope {
  readonly run: SuiteRun;
  readonly caps: Readonly<AdapterCapabilities>;
  /** Property runs made in this scope (and its children). */
  readonly stats: { runs: number };
  readonly #open = new Set<{ close(): Promise<void> }>();

  /** The check this scope belongs to, as `--only` names it (`group/number`). */
  readonly checkId: string;

  constructor(run: SuiteRun, caps: Readonly<AdapterCapabilities>, stats: { runs: number } = { runs: 0 }, checkId = '') {
    this.run = run;
    this.caps = caps;
    this.stats = stats;
    this.checkId = checkId;
  }

  /** The command that replays a property failure of this check. */
  readonly replay: ReplayCommand = (failure) => this.run.replayCommand(this.checkId, failure);

  noteRuns(runs: number): void {
    this.stats.runs += runs;
  }

  get settings(): ResolvedSettings {
    return this.run.settings;
  }

  storeName(prefix: string): string {
    return this.run.storeName(prefix);
  }

  /** Opens (or reopens) the adapter of `storeName`, closed with the scope. */
  async adapter(storeName: string): Promise<StorageAdapter> {
    const adapter = await this.run.openAdapter(storeName);
    this.track(adapter);
    return adapter;
  }

  /** Opens (or reopens) a Store on the adapter of `storeName` (ticking clock by default). */
  async store(storeName: string, options: StoreOptions = {}): Promise<Store> {
    const store = openStore(await this.run.openAdapter(storeName), { clock: tickingClock(), ...options });
    this.track(store);
    return store;
  }

  /** A Store on a fresh MemoryAdapter: the oracle. */
  oracle(options: StoreOptions = {}): Store {
    const store = openStore(new MemoryAdapter(), { clock: tickingClock(), ...options });
    this.track(store);
    return store;
  }

  track<T extends { close(): Promise<void> }>(thing: T): T {
    this.#open.add(thing);
    return thing;
  }

  /** Closes one tracked thing now (e.g. before a reopen). */
  async closeOne(thing: { close(): Promise<void> }): Promise<void> {
    this.#open.delete(thing);
    await thing.close();
  }

  /** Closes everything still open. Errors other than `CLOSED` are rethrown after all closed. */
  async close(): Promise<void> {
    const things = [...this.#open];
    this.#open.clear();
    let failure: unknown;
    for (const t of things) {
      try {
        await t.close();
      } catch (e) {
        if (!isCseError(e, 'CLOSED')) failure ??= e;
      }
    }
    if (failure !== undefined) throw failure;
  }

  /** Runs `fn` in a child scope that is closed afterwards (one run of a property). */
  async child<T>(fn: (scope: Scope) => Promise<T>): Promise<T> {
    const scope = new Scope(this.run, this.caps, this.stats, this.checkId);
    let result: T;
    try {
      result = await fn(scope);
    } catch (e) {
      await scope.close().catch(() => undefined);
      throw e;
    }
    await scope.close();
    return result;
  }
}
