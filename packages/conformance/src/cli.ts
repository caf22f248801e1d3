#!/usr/bin/env node
/**
 * `cse-conformance`: runs the conformance suite against an adapter from the command line, through
 * Vitest's Node API, and ends with a table per guarantee.
 *
 *   cse-conformance --adapter sqlite
 *   cse-conformance --adapter ./my-factory.js --runs 100 --json report.json
 *   cse-conformance --adapter sqlite --only sync-ids/3 --seed 42 --path 7:1
 *
 * Exit codes: 0 every check passed (skips allowed), 1 a check failed (or nothing could run),
 * 2 a usage error.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { TestCase, TestModule } from 'vitest/node';
import type { CaseResult } from './cli/report.js';
import { buildReport, formatReport } from './cli/report.js';
import { ALL_GROUPS } from './groups/index.js';
import { DEFAULT_RUNS } from './options.js';

/**
 * The built-in adapters. To add one: a factory module in `src/adapters/` that exports `open`,
 * and a row here.
 */
export const BUILT_IN_ADAPTERS: Readonly<
  Record<string, { readonly file: string; readonly package?: string; readonly about: string; readonly env?: string; readonly flag?: 'fake'; readonly without?: string }>
> = {
  memory: { file: 'memory', about: 'MemoryAdapter from @cse/core (in memory, not persistent)' },
  sqlite: { file: 'sqlite', package: '@cse/adapter-sqlite', about: 'one SQLite file per store in a fresh temp folder' },
  level: { file: 'level', package: '@cse/adapter-level', about: 'one classic-level directory per store in a fresh temp folder' },
  redis: {
    file: 'redis',
    package: '@cse/adapter-redis',
    env: 'REDIS_URL',
    about: 'the Redis server at REDIS_URL (cse-conformance starts no server)',
  },
  indexeddb: {
    file: 'indexeddb-fake',
    package: '@cse/adapter-indexeddb',
    flag: 'fake',
    about: 'with --fake: fake-indexeddb in Node',
    without:
      'the real IndexedDB run needs Chromium through Vitest browser mode; run the adapter package’s browser tests, or pass --fake for fake-indexeddb in Node',
  },
};

const USAGE = `Usage: cse-conformance --adapter <name | path | package> [options]

Runs the CSE conformance suite against a storage adapter.

  --adapter <a>     ${Object.keys(BUILT_IN_ADAPTERS).join(' | ')}, or a path or package name of an
                    ES module that exports open(storeName, { dir }) => StorageAdapter
  --fake            with --adapter indexeddb: run on fake-indexeddb in Node
  --name <label>    the adapter's label in the report (default: the --adapter value)
  --seed <n>        fast-check seed (default: random, printed; replays a run)
  --runs <n>        runs per property (default ${DEFAULT_RUNS})
  --only <g[/c]>    only these groups, or one check (group/number); repeat or comma-separate
  --path <p>        fast-check replay path of a failure (with --seed and one --only check)
  --json <file>     also write a machine-readable report
  --list            list the groups and exit
  -h, --help        this help

Exit codes: 0 passed (skips allowed), 1 a check failed, 2 usage error.`;

class UsageError extends Error {}

interface Resolved {
  /** Absolute path of the factory module, or a package name. */
  readonly module: string;
  readonly label: string;
  /** Arguments that select this adapter again (for replay commands). */
  readonly args: string[];
}

const fromSource = import.meta.url.endsWith('.ts');
const ext = fromSource ? '.ts' : '.js';
const here = dirname(fileURLToPath(import.meta.url));

function resolveAdapter(spec: string, fake: boolean): Resolved {
  const builtIn = BUILT_IN_ADAPTERS[spec];
  if (builtIn !== undefined) {
    if (builtIn.flag === 'fake' && !fake) throw new UsageError(`--adapter ${spec}: ${builtIn.without ?? 'needs --fake'}`);
    if (builtIn.env !== undefined && !process.env[builtIn.env]) {
      throw new UsageError(`--adapter ${spec} needs ${builtIn.env} (e.g. ${builtIn.env}=redis://127.0.0.1:6379): ${builtIn.about}`);
    }
    return { module: join(here, 'adapters', `${builtIn.file}${ext}`), label: spec, args: ['--adapter', spec, ...(fake ? ['--fake'] : [])] };
  }
  const asPath = resolve(spec);
  if (existsSync(asPath)) return { module: asPath, label: spec, args: ['--adapter', spec] };
  if (spec.startsWith('.') || isAbsolute(spec)) throw new UsageError(`--adapter ${spec}: no such file`);
  try {
    import.meta.resolve(spec);
  } catch {
    throw new UsageError(`--adapter ${spec}: not a built-in adapter (${Object.keys(BUILT_IN_ADAPTERS).join(', ')}), a file, or an installed package`);
  }
  return { module: spec, label: spec, args: ['--adapter', spec] };
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
  json: string | undefined;
  name: string | undefined;
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
        name: { type: 'string' },
        seed: { type: 'string' },
        runs: { type: 'string' },
        only: { type: 'string', multiple: true },
        path: { type: 'string' },
        json: { type: 'string' },
        list: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.help || values.list) {
    return { help: values.help, list: values.list, adapter: undefined, seed: 0, runs: 0, only: [], path: undefined, json: undefined, name: undefined };
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
  return {
    help: false,
    list: false,
    adapter: resolveAdapter(values.adapter, values.fake),
    seed: intArg(values.seed, 'seed', -(2 ** 31)) ?? Math.floor(Math.random() * 2 ** 31),
    runs: intArg(values.runs, 'runs', 1) ?? DEFAULT_RUNS,
    only,
    path: values.path,
    json: values.json,
    name: values.name,
  };
}

function listGroups(): string {
  return ALL_GROUPS.map((g) => [`${g.id}  (${g.title})`, ...g.checks.map((c, i) => `  ${g.id}/${i + 1}  ${c.name}`)].join('\n')).join('\n');
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

  console.log(`cse-conformance: ${label} (seed ${args.seed}, ${args.runs} runs per property${args.only.length ? `, only ${args.only.join(', ')}` : ''})`);
  const cases: CaseResult[] = [];
  const errors: string[] = [];
  const started = new Date();
  const root = resolve(here, '..');
  const entry = relative(root, join(here, 'runner', `entry${ext}`));
  const sourceConditions = fromSource ? { resolve: { conditions: ['@cse/source', 'module', 'browser', 'development|production'] }, ssr: { resolve: { conditions: ['@cse/source', 'module', 'node', 'development|production'] } } } : {};
  // Loaded only now: usage errors and --help stay quick.
  const { startVitest } = await import('vitest/node');
  const vitest = await startVitest(
    'test',
    [],
    {
      config: false,
      root,
      include: [entry],
      exclude: [],
      watch: false,
      testTimeout: 600_000,
      hookTimeout: 120_000,
      // Let Vite load the suite (and through it the factory module), so a `.ts` factory works
      // without tsx even when the suite comes from node_modules.
      server: { deps: { inline: [/[\\/]@cse[\\/]conformance[\\/]/] } },
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
    console.error(e);
    process.exit(1);
  },
);
