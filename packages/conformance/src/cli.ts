#!/usr/bin/env node
/**
 * `cse-conformance`: runs the conformance suite against an adapter from the command line, through
 * Vitest's Node API, and ends with a table per guarantee.
 *
 *   cse-conformance --adapter sqlite
 *   cse-conformance --adapter ./my-factory.js --runs 100 --json report.json
 *   cse-conformance --adapter sqlite --only sync-ids/3 --seed 42 --path 7:1
 *   cse-conformance --adapter indexeddb               (real headless Chromium, Vitest browser mode)
 *   cse-conformance --adapter ./my-browser-factory.ts --browser
 *
 * Exit codes: 0 every check passed (skips allowed), 1 a check failed (or nothing could run),
 * 2 a usage error or a missing prerequisite (Chromium, the browser provider).
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { TestCase, TestModule, TestUserConfig } from 'vitest/node';
import type { CaseResult } from './cli/report.js';
import { buildReport, formatReport } from './cli/report.js';
import { ALL_GROUPS } from './groups/index.js';
import { DEFAULT_RUNS } from './options.js';
import type { BrowserRun } from './runner/browser-entry.js';

interface BuiltIn {
  /** The factory module in `src/adapters/`. */
  readonly file: string;
  readonly package?: string;
  readonly about: string;
  /** An environment variable the adapter needs. */
  readonly env?: string;
  /** The factory runs in the browser: `always` (only there) or `allowed` (with --browser). */
  readonly browser?: 'always' | 'allowed';
  /** The factory of `--fake`: the same adapter on a stand-in backend in Node. */
  readonly fake?: string;
  /** Dependencies the page loads, for Vite to pre-bundle before the run (`optimizeDeps.include`). */
  readonly pageDeps?: readonly string[];
}

/**
 * The built-in adapters. To add one: a factory module in `src/adapters/` that exports `open`,
 * and a row here.
 */
export const BUILT_IN_ADAPTERS: Readonly<Record<string, BuiltIn>> = {
  memory: { file: 'memory', browser: 'allowed', about: 'MemoryAdapter from @cse/core (in memory, not persistent)' },
  sqlite: { file: 'sqlite', package: '@cse/adapter-sqlite', about: 'one SQLite file per store in a fresh temp folder' },
  level: { file: 'level', package: '@cse/adapter-level', about: 'one classic-level directory per store in a fresh temp folder' },
  redis: {
    file: 'redis',
    package: '@cse/adapter-redis',
    env: 'REDIS_URL',
    about: 'the Redis server at REDIS_URL (cse-conformance starts no server)',
  },
  indexeddb: {
    file: 'indexeddb-browser',
    package: '@cse/adapter-indexeddb',
    browser: 'always',
    fake: 'indexeddb-fake',
    pageDeps: ['@cse/adapter-indexeddb > idb'],
    about: 'the real IndexedDB of headless Chromium; with --fake: fake-indexeddb in Node',
  },
};

/** Flags of the Chromium the browser runs start (headless, in containers and CI). */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-dev-shm-usage',
];
const DEFAULT_CHROMIUM = '/usr/bin/chromium';

const USAGE = `Usage: cse-conformance --adapter <name | path | package> [options]

Runs the CSE conformance suite against a storage adapter.

  --adapter <a>     ${Object.keys(BUILT_IN_ADAPTERS).join(' | ')}, or a path or package name of an
                    ES module that exports open(storeName, { dir }) => StorageAdapter
  --fake            with --adapter indexeddb: run on fake-indexeddb in Node (quick), not Chromium
  --browser         run the factory module in headless Chromium (Vitest browser mode); implied
                    by --adapter indexeddb
  --chromium <p>    the Chromium browser runs use (default: CHROMIUM_PATH, else ${DEFAULT_CHROMIUM})
  --name <label>    the adapter's label in the report (default: the --adapter value)
  --seed <n>        fast-check seed (default: random, printed; replays a run)
  --runs <n>        base runs per property, scaled per check (default ${DEFAULT_RUNS})
  --only <g[/c]>    only these groups, or one check (group/number); repeat or comma-separate
  --path <p>        fast-check replay path of a failure (with --seed and one --only check)
  --commands-path <p>
                    fast-check replay path of a shrunk command sequence (model failures; with
                    --seed and --path); every failure prints the whole replay command
  --json <file>     also write a machine-readable report
  --list            list the groups and exit
  -h, --help        this help

Exit codes: 0 passed (skips allowed), 1 a check failed, 2 usage error or missing prerequisite.`;

class UsageError extends Error {}
/** Something the run needs is not installed (exit 2, without the usage text). */
class SetupError extends Error {}

interface Resolved {
  /** Absolute path of the factory module, or a package name. */
  readonly module: string;
  readonly label: string;
  /** Arguments that select this adapter again (for replay commands). */
  readonly args: string[];
  /** Run in headless Chromium. */
  readonly browser: boolean;
}

const fromSource = import.meta.url.endsWith('.ts');
const ext = fromSource ? '.ts' : '.js';
const here = dirname(fileURLToPath(import.meta.url));

function resolveAdapter(spec: string, fake: boolean, browser: boolean): Resolved {
  if (fake && browser) throw new UsageError('--fake runs in Node and --browser in Chromium: pass one of them');
  const builtIn = BUILT_IN_ADAPTERS[spec];
  if (builtIn !== undefined) {
    if (fake && builtIn.fake === undefined) throw new UsageError(`--fake applies to --adapter ${Object.keys(BUILT_IN_ADAPTERS).filter((k) => BUILT_IN_ADAPTERS[k]?.fake).join(', ')}`);
    if (browser && builtIn.browser === undefined) throw new UsageError(`--adapter ${spec} does not run in a browser (${builtIn.about})`);
    if (builtIn.env !== undefined && !process.env[builtIn.env]) {
      throw new UsageError(`--adapter ${spec} needs ${builtIn.env} (e.g. ${builtIn.env}=redis://127.0.0.1:6379): ${builtIn.about}`);
    }
    const inBrowser = !fake && (browser || builtIn.browser === 'always');
    const file = fake ? (builtIn.fake as string) : builtIn.file;
    const again = ['--adapter', spec, ...(fake ? ['--fake'] : []), ...(browser && builtIn.browser !== 'always' ? ['--browser'] : [])];
    return { module: join(here, 'adapters', `${file}${ext}`), label: spec, args: again, browser: inBrowser };
  }
  if (fake) throw new UsageError(`--fake applies to the built-in --adapter indexeddb, not to ${spec}`);
  const again = ['--adapter', spec, ...(browser ? ['--browser'] : [])];
  const asPath = resolve(spec);
  if (existsSync(asPath)) return { module: asPath, label: spec, args: again, browser };
  if (spec.startsWith('.') || isAbsolute(spec)) throw new UsageError(`--adapter ${spec}: no such file`);
  try {
    import.meta.resolve(spec);
  } catch {
    throw new UsageError(`--adapter ${spec}: not a built-in adapter (${Object.keys(BUILT_IN_ADAPTERS).join(', ')}), a file, or an installed package`);
  }
  return { module: spec, label: spec, args: again, browser };
}

function intArg(raw: string | undefined, name: string, min: number): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`--${name} must be an integer${min > Number.MIN_SAFE_INTEGER ? ` of at least ${min}` : ''}, got ${JSON.stringify(raw)}`);
  return n;
}

function parse(argv: string[]): {
  help: boolean;
  list: boolean;
  adapter: Resolved | undefined;
  seed: number;
  runs: number;
  only: string[];
  path: string | undefined;
  commandsPath: string | undefined;
  json: string | undefined;
  name: string | undefined;
  chromium: string;
} {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        adapter: { type: 'string' },
        fake: { type: 'boolean', default: false },
        browser: { type: 'boolean', default: false },
        chromium: { type: 'string' },
        name: { type: 'string' },
        seed: { type: 'string' },
        runs: { type: 'string' },
        only: { type: 'string', multiple: true },
        path: { type: 'string' },
        'commands-path': { type: 'string' },
        json: { type: 'string' },
        list: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.help || values.list) {
    return { help: values.help, list: values.list, adapter: undefined, seed: 0, runs: 0, only: [], path: undefined, commandsPath: undefined, json: undefined, name: undefined, chromium: '' };
  }
  if (values.adapter === undefined) throw new UsageError('--adapter is required');
  const only = (values.only ?? []).flatMap((o) => o.split(',')).map((o) => o.trim()).filter((o) => o !== '');
  for (const o of only) {
    const [g, c] = o.split('/', 2) as [string, string | undefined];
    const group = ALL_GROUPS.find((x) => x.id === g);
    if (group === undefined) throw new UsageError(`--only ${o}: no group ${JSON.stringify(g)} (see --list)`);
    if (c !== undefined && !group.checks.some((k, i) => k.name === c || String(i + 1) === c)) {
      throw new UsageError(`--only ${o}: group ${g} has checks 1-${group.checks.length} (see --list)`);
    }
  }
  if (values.path !== undefined && values.seed === undefined) throw new UsageError('--path replays a failure and needs its --seed');
  if (values['commands-path'] !== undefined && values.path === undefined) throw new UsageError('--commands-path replays a model failure and needs its --seed and --path');
  return {
    help: false,
    list: false,
    adapter: resolveAdapter(values.adapter, values.fake, values.browser),
    seed: intArg(values.seed, 'seed', -(2 ** 31)) ?? Math.floor(Math.random() * 2 ** 31),
    runs: intArg(values.runs, 'runs', 1) ?? DEFAULT_RUNS,
    only,
    path: values.path,
    commandsPath: values['commands-path'],
    json: values.json,
    name: values.name,
    chromium: values.chromium ?? (process.env.CHROMIUM_PATH || DEFAULT_CHROMIUM),
  };
}

function listGroups(): string {
  return ALL_GROUPS.map((g) => [`${g.id}  (${g.title})`, ...g.checks.map((c, i) => `  ${g.id}/${i + 1}  ${c.name}`)].join('\n')).join('\n');
}

/** The factory module as a URL the Vite server serves to the page. */
function pageUrl(module: string): string {
  if (!isAbsolute(module)) return `/@id/${module}`;
  return `/@fs/${module.replace(/\\/g, '/').replace(/^\//, '')}`;
}

function isNotFound(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}

/**
 * The Vitest and Vite settings of a run in headless Chromium. Checks first what the run needs
 * (Chromium, the optional provider packages, the adapter package) and says how to install it.
 */
async function browserSettings(
  adapter: Resolved,
  run: BrowserRun,
  chromium: string,
): Promise<{ test: TestUserConfig; vite: { optimizeDeps: { include: string[]; entries: string[] }; server: { fs: { allow: string[] } } } }> {
  try {
    accessSync(chromium, constants.X_OK);
  } catch {
    throw new SetupError(`no Chromium at ${chromium}: install Debian's chromium: apt-get install chromium (or pass --chromium / CHROMIUM_PATH)`);
  }
  const builtIn = BUILT_IN_ADAPTERS[adapter.label];
  const packages = builtIn?.package === undefined ? [] : [builtIn.package];
  for (const name of packages) {
    try {
      import.meta.resolve(name);
    } catch {
      throw new SetupError(`this adapter needs the package ${name}: run npm install ${name}`);
    }
  }
  let provider: typeof import('@vitest/browser-playwright');
  try {
    provider = await import('@vitest/browser-playwright');
  } catch (e) {
    if (!isNotFound(e)) throw e;
    throw new SetupError(
      `browser runs need the optional peer dependencies @vitest/browser-playwright and playwright: npm install --save-dev @vitest/browser-playwright playwright (no browser download: they drive ${chromium})`,
    );
  }
  return {
    test: {
      provide: { cseConformance: run },
      browser: {
        enabled: true,
        headless: true,
        screenshotFailures: false,
        provider: provider.playwright({ launchOptions: { executablePath: chromium, args: CHROMIUM_ARGS } }),
        instances: [{ browser: 'chromium' }],
      },
    },
    vite: {
      // Pre-bundled up front, so Vite does not reload the page mid-run when it first meets them:
      // the suite's and built-in factories' dependencies, and whatever the factory module imports.
      optimizeDeps: { include: ['fast-check', ...(builtIn?.pageDeps ?? [])], entries: isAbsolute(adapter.module) ? [adapter.module] : [] },
      // The page imports the factory by `/@fs/`: let Vite serve it from wherever it lives.
      server: { fs: { allow: [process.cwd(), ...(isAbsolute(adapter.module) ? [dirname(adapter.module)] : [])] } },
    },
  };
}

function caseResult(testCase: TestCase): CaseResult {
  const result = testCase.result();
  const suite = testCase.parent.type === 'suite' ? testCase.parent.name : '';
  const runs = (testCase.meta() as { cseRuns?: unknown }).cseRuns;
  return {
    suite,
    title: testCase.name,
    state: result.state,
    durationMs: testCase.diagnostic()?.duration ?? 0,
    runs: typeof runs === 'number' ? runs : 0,
    errors: (result.errors ?? []).map((e) => ({ message: e.message })),
  };
}

async function run(argv: string[]): Promise<number> {
  const args = parse(argv);
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  if (args.list) {
    console.log(listGroups());
    return 0;
  }
  const adapter = args.adapter as Resolved;
  const label = args.name ?? adapter.label;
  process.env.CSE_CONFORMANCE_MODULE = adapter.module;
  process.env.CSE_CONFORMANCE_NAME = label;
  process.env.CSE_CONFORMANCE_SEED = String(args.seed);
  process.env.CSE_CONFORMANCE_RUNS = String(args.runs);
  if (args.only.length > 0) process.env.CSE_CONFORMANCE_ONLY = args.only.join(',');
  else delete process.env.CSE_CONFORMANCE_ONLY;
  if (args.path !== undefined) process.env.CSE_CONFORMANCE_PATH = args.path;
  else delete process.env.CSE_CONFORMANCE_PATH;
  if (args.commandsPath !== undefined) process.env.CSE_CONFORMANCE_COMMANDS_PATH = args.commandsPath;
  else delete process.env.CSE_CONFORMANCE_COMMANDS_PATH;

  const browser = adapter.browser
    ? await browserSettings(
        adapter,
        { url: pageUrl(adapter.module), module: adapter.module, name: label, seed: args.seed, runs: args.runs, only: args.only, path: args.path },
        args.chromium,
      )
    : undefined;

  const where = browser === undefined ? '' : ' in headless Chromium';
  console.log(`cse-conformance: ${label}${where} (seed ${args.seed}, base ${args.runs} runs per property${args.only.length ? `, only ${args.only.join(', ')}` : ''})`);
  const cases: CaseResult[] = [];
  const errors: string[] = [];
  const started = new Date();
  const root = resolve(here, '..');
  const entry = relative(root, join(here, 'runner', `${browser === undefined ? 'entry' : 'browser-entry'}${ext}`));
  const sourceConditions = fromSource ? { resolve: { conditions: ['@cse/source', 'module', 'browser', 'development|production'] }, ssr: { resolve: { conditions: ['@cse/source', 'module', 'node', 'development|production'] } } } : {};
  // Loaded only now: usage errors and --help stay quick.
  const { startVitest } = await import('vitest/node');
  const tests = { include: [entry], exclude: [], testTimeout: 600_000, hookTimeout: 120_000 };
  const vitest = await startVitest(
    'test',
    [],
    {
      config: false,
      root,
      watch: false,
      ...(browser === undefined
        ? {
            ...tests,
            // Let Vite load the suite (and through it the factory module), so a `.ts` factory
            // works without tsx even when the suite comes from node_modules.
            server: { deps: { inline: [/[\\/]@cse[\\/]conformance[\\/]/] } },
          }
        : // The browser run is an inline project: Vitest builds the page's Vite server from a
          // project's own config (optimizeDeps, server.fs, resolve), not from the root overrides.
          { projects: [{ ...sourceConditions, ...browser.vite, test: { ...tests, name: 'chromium', root, ...browser.test } }] }),
      reporters: [
        {
          onTestCaseResult(testCase: TestCase) {
            const c = caseResult(testCase);
            cases.push(c);
            const mark = c.state === 'passed' ? '✓' : c.state === 'failed' ? '✗' : '↓';
            const extra = c.state === 'passed' ? ` (${Math.round(c.durationMs)} ms${c.runs ? `, ${c.runs} runs` : ''})` : '';
            console.log(`  ${mark} ${c.suite} › ${c.title}${extra}`);
          },
          onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandled: ReadonlyArray<{ message?: string }>) {
            for (const m of modules) for (const e of m.errors()) errors.push(e.message ?? String(e));
            for (const e of unhandled) errors.push(e.message ?? String(e));
          },
        },
      ],
    },
    sourceConditions,
  );
  await vitest.close();
  const report = buildReport({
    adapter: label,
    seed: args.seed,
    runs: args.runs,
    startedAt: started,
    durationMs: Date.now() - started.getTime(),
    cases,
    errors,
    adapterArgs: [...adapter.args, ...(args.name ? ['--name', args.name] : [])],
  });
  // A factory module that exports no `open` is a usage error: nothing ran, and the table is empty.
  const noFactory = cases.length === 0 ? errors.find((e) => /exports no function "open"/.test(e)) : undefined;
  if (noFactory !== undefined) throw new UsageError(`--adapter ${adapter.label}: ${noFactory.split('\n')[0] ?? ''}`);
  console.log(formatReport(report));
  if (args.json !== undefined) {
    await writeFile(args.json, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`report written to ${args.json}`);
  }
  return report.ok ? 0 : 1;
}

run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof UsageError) {
      console.error(`cse-conformance: ${e.message}\n\n${USAGE}`);
      process.exit(2);
    }
    if (e instanceof SetupError) {
      console.error(`cse-conformance: ${e.message}`);
      process.exit(2);
    }
    console.error(e);
    process.exit(1);
  },
);
