#!/usr/bin/env node
// npm run bench: every workload against every adapter and its raw baseline. See README.md.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, freemem, loadavg, platform, release, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ADAPTERS } from './adapters.js';
import { markdown, judge, relayMarkdown, syncMarkdown, textTable } from './report.js';
import { PARAMS, SYNC_WORKLOADS, WORKLOADS } from './workloads/index.js';
import { commitsMarkdown } from './lib/commits-report.js';
import { dashboardMarkdown } from './lib/dashboard-report.js';
import { keepSections } from './lib/results-file.js';
import { peersMarkdown } from './lib/peers-report.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    workloads: { type: 'string' },
    runs: { type: 'string' },
    duration: { type: 'string' },
    writers: { type: 'string' },
    'redis-persistence': { type: 'string', default: 'none' },
    'cpu-prof': { type: 'boolean', default: false },
    'no-save': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (args.help) {
  process.stdout.write(`node bench/run.js [--quick] [--only sqlite,redis] [--workloads W1,W5] [--runs 5] [--duration 400]
  [--writers 4] [--redis-persistence none|aof-everysec|aof-always] [--cpu-prof] [--no-save]
Adapters: ${Object.keys(ADAPTERS).join(', ')}. Workloads: ${[...WORKLOADS, ...SYNC_WORKLOADS].map((w) => w.id).join(', ')}, L1 (L1, the initial load into IndexedDB, runs in indexeddb-chromium only; S1, the sync layer, S2, the relay with the encrypted channel, S3, commits at the default durability, and P1, sync side by side with PouchDB and RxDB, run once, not per adapter; P1 installs its peers in bench/peers on first use).\n`);
  process.exit(0);
}

const only = args.only?.split(',').map((s) => s.trim().toLowerCase());
for (const name of only ?? []) if (!ADAPTERS[name]) throw new Error(`unknown adapter ${name}; known: ${Object.keys(ADAPTERS).join(', ')}`);
const workloads = args.workloads?.split(',').map((s) => s.trim().toUpperCase());
const params = { ...(args.quick ? PARAMS.quick : PARAMS.full) };
if (args.runs) params.runs = Number(args.runs);
if (args.duration) params.durationMs = Number(args.duration);
if (args.writers) params.writers = Number(args.writers);
const complete = !args.quick && !only && !workloads && !args.runs && !args.duration && !args.writers && args['redis-persistence'] === 'none';

const require = createRequire(join(root, 'package.json'));
function version(pkg) {
  // Our own packages export no package.json: read it from the workspace.
  if (pkg.startsWith('@cse/')) {
    const file = join(root, 'packages', pkg === '@cse/core' ? 'core' : pkg.slice(5), 'package.json');
    return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')).version : 'not present';
  }
  try {
    return JSON.parse(readFileSync(require.resolve(`${pkg}/package.json`), 'utf8')).version;
  } catch {
    const main = (() => {
      try {
        return require.resolve(pkg);
      } catch {
        return undefined;
      }
    })();
    for (let d = main && dirname(main); d && d !== dirname(d); d = dirname(d)) {
      const file = join(d, 'package.json');
      if (existsSync(file)) {
        const json = JSON.parse(readFileSync(file, 'utf8'));
        if (json.name === pkg) return json.version;
      }
    }
    return 'not installed';
  }
}

function git(...a) {
  try {
    return execFileSync('git', a, { cwd: root, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

/** True when the adapter's package is built (the bench consumes dist/). */
function built(pkg) {
  const dir = pkg === '@cse/core' ? 'core' : pkg.replace('@cse/', '');
  return existsSync(join(root, 'packages', dir, 'dist', 'index.js'));
}

function runSuite(adapterName) {
  const out = join(tmpdir(), `cse-bench-${process.pid}-${adapterName}.json`);
  const node = ['--expose-gc'];
  if (args['cpu-prof']) {
    const profDir = join(here, 'profiles');
    mkdirSync(profDir, { recursive: true });
    node.push('--cpu-prof', '--cpu-prof-dir', profDir, '--cpu-prof-name', `${adapterName}-${Date.now()}.cpuprofile`);
  }
  const config = { out, adapterName, params, workloads, options: { redisPersistence: args['redis-persistence'] } };
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...node, join(here, 'lib', ADAPTERS[adapterName].suite ?? 'suite.js'), JSON.stringify(config)], { stdio: ['ignore', 'inherit', 'inherit'] });
    // A suite that hangs (a stuck writer process, a backend that stopped answering) is killed
    // and reported as failed, so a bench run always ends.
    const limitMs = (args.quick ? 10 : 20) * 60_000;
    const timer = setTimeout(() => {
      console.error(`[${adapterName}] suite still running after ${limitMs / 60_000} min: killed`);
      child.kill('SIGKILL');
    }, limitMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      let result;
      try {
        result = JSON.parse(readFileSync(out, 'utf8'));
        rmSync(out, { force: true });
      } catch {
        result = { adapter: adapterName, error: `suite process exited with ${signal ?? code} and wrote no result`, workloads: [] };
      }
      resolve(result);
    });
  });
}

const started = new Date();
const environment = {
  node: process.version,
  os: `${platform()} ${release()}`,
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  memoryGb: Math.round(totalmem() / 2 ** 30),
  freeMemoryGbAtStart: Math.round(freemem() / 2 ** 30),
  loadStart: loadavg().map((x) => Number(x.toFixed(2))),
  gitCommit: git('rev-parse', '--short', 'HEAD'),
  gitDirty: git('status', '--porcelain', '--', 'packages').length > 0,
  packages: Object.fromEntries(
    ['@cse/core', '@cse/adapter-sqlite', '@cse/adapter-level', '@cse/adapter-redis', '@cse/adapter-indexeddb', 'better-sqlite3', 'classic-level', 'ioredis', 'idb', 'fake-indexeddb'].map((p) => [p, version(p)]),
  ),
};

/** A once-only workload (S1: lib/sync-suite.js, S2: lib/relay-suite.js) in its own process; undefined when not selected. */
function runOnceSuite(id, script, needs) {
  if (workloads && !workloads.includes(id)) return Promise.resolve(undefined);
  const missing = needs.find((p) => !built(p));
  if (missing) return Promise.resolve({ id, error: `${missing} not built (run npx turbo run build)` });
  const out = join(tmpdir(), `cse-bench-${process.pid}-${id}.json`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--expose-gc', join(here, 'lib', script), JSON.stringify({ out, params, quick: args.quick })], { stdio: ['ignore', 'inherit', 'inherit'] });
    const limitMs = (id === 'D1' || id === 'P1' ? 40 : args.quick ? 10 : 20) * 60_000;
    const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(readFileSync(out, 'utf8')));
        rmSync(out, { force: true });
      } catch {
        resolve({ id, error: `${script} exited with ${signal ?? code} and wrote no result` });
      }
    });
  });
}

const results = [];
// L1 (initial load into IndexedDB) runs in the indexeddb-chromium suite only.
const adapterWorkloads = !workloads || workloads.some((w) => w === 'L1' || WORKLOADS.some((x) => x.id === w));
for (const [name, entry] of Object.entries(ADAPTERS)) {
  if (!adapterWorkloads) break;
  if (only && !only.includes(name)) continue;
  if (!built(entry.package)) {
    process.stderr.write(`[${name}] skipped: ${entry.package} is not built (npx turbo run build)\n`);
    results.push({ adapter: name, package: entry.package, durability: entry.durability, error: `${entry.package} not built (run npx turbo run build)`, workloads: [] });
    continue;
  }
  results.push(await runSuite(name));
}
const sync = await runOnceSuite('S1', 'sync-suite.js', ['@cse/sync']);
const relay = await runOnceSuite('S2', 'relay-suite.js', ['@cse/sync', '@cse/relay']);
const commits = await runOnceSuite('S3', 'commit-suite.js', ['@cse/adapter-sqlite']);
// D1 (the dashboard in Chromium, minutes long) is left out of a --quick run unless asked for by name.
const dashboard = args.quick && !workloads?.includes('D1') ? undefined : await runOnceSuite('D1', 'dashboard-suite.js', ['@cse/sync', '@cse/adapter-sqlite']);
// P1 (sync side by side with PouchDB and RxDB) needs the peers, installed on demand in bench/peers
// (not an npm workspace, so the root npm ci never installs them). Never in a --quick run unless asked for.
let peers;
if (args.quick && !workloads?.includes('P1')) {
  process.stderr.write('[peers] P1 (sync side by side with PouchDB and RxDB) runs only in a full run or with --workloads P1\n');
} else if (!workloads || workloads.includes('P1')) {
  const peersDir = join(here, 'peers');
  if (!existsSync(join(peersDir, 'node_modules'))) {
    process.stderr.write('[peers] installing PouchDB and RxDB for P1: npm ci --prefix bench/peers\n');
    try {
      execFileSync('npm', ['ci', '--prefix', peersDir, '--no-audit', '--no-fund'], { stdio: ['ignore', 'inherit', 'inherit'] });
    } catch (e) {
      peers = { id: 'P1', error: `npm ci --prefix bench/peers failed: ${e.message}` };
    }
  }
  peers ??= await runOnceSuite('P1', 'peers-suite.js', ['@cse/sync', '@cse/adapter-sqlite', '@cse/adapter-indexeddb']);
}
environment.loadEnd = loadavg().map((x) => Number(x.toFixed(2)));

const command = `node bench/run.js${process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : ''}`;
const report = {
  date: started.toISOString(),
  command: complete ? 'npm run bench' : command,
  seconds: Math.round((Date.now() - started.getTime()) / 1000),
  params: { ...params, quick: args.quick },
  environment,
  // A --quick run is a smoke test (npm test runs one): too short to judge targets by.
  results: results.map((a) => ({ ...a, workloads: a.workloads.map((w) => judge(w, args.quick)) })),
  ...(sync ? { sync } : {}),
  ...(relay ? { relay } : {}),
  ...(commits ? { commits } : {}),
  ...(dashboard ? { dashboard } : {}),
  ...(peers ? { peers } : {}),
};

if (sync) process.stdout.write(`\n${syncMarkdown(sync, report.command, report.date, args.quick).join('\n')}\n`);
if (relay) process.stdout.write(`\n${relayMarkdown(relay, report.command, report.date, args.quick).join('\n')}\n`);
if (commits) process.stdout.write(`\n${commitsMarkdown(commits, report.command, report.date, args.quick).join('\n')}\n`);
if (dashboard) process.stdout.write(`\n${dashboardMarkdown(dashboard, report.command, report.date, args.quick).join('\n')}\n`);
if (peers) process.stdout.write(`\n${peersMarkdown(peers, report.command, report.date, args.quick, environment).join('\n')}\n`);
process.stdout.write(`\n${textTable(report.results, args.quick)}\n\n${report.seconds} s; Node ${environment.node}, ${environment.cpu} x ${environment.cores}, load ${environment.loadStart.join('/')}\n`);

if (!args['no-save']) {
  const stamp = started.toISOString().replace(/[:.]/g, '-');
  const file = join(here, `results-${stamp}${args.quick ? '-quick' : ''}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`wrote ${file}\n`);
  if (complete) {
    writeFileSync(join(here, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
    const resultsFile = join(here, 'RESULTS.md');
    // S3's section goes before "Durability and versions" (P1's is part of markdown(); a function,
    // not a replacement string: the sections hold `$` and backticks).
    const extra = (commits && !commits.error ? commitsMarkdown(commits, report.command, report.date) : []).join('\n');
    const fresh = markdown(report).replace('\n## Durability and versions', () => `\n${extra.trim()}\n\n## Durability and versions`);
    // Sections this run does not make (the relay fleet's, findings written by hand) are kept.
    writeFileSync(resultsFile, keepSections(existsSync(resultsFile) ? readFileSync(resultsFile, 'utf8') : '', fresh));
    process.stdout.write('wrote bench/latest.json and bench/RESULTS.md (sections this run does not make kept from the previous file)\n');
  } else if (sync && !sync.error && !args.quick) {
    // A full-size S1 run on its own (--workloads S1) updates the sync section of RESULTS.md.
    const file = join(here, 'RESULTS.md');
    const old = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmark results\n';
    const section = syncMarkdown(sync, command, report.date).join('\n');
    const at = old.indexOf('## Sync (S1');
    const next = at < 0 ? -1 : old.indexOf('\n## ', at + 1);
    const updated = at < 0 ? old.replace('\n## Durability and versions', () => `\n${section}\n## Durability and versions`) : old.slice(0, at) + section + (next < 0 ? '' : old.slice(next + 1));
    writeFileSync(file, updated.includes(section) ? updated : `${old.trimEnd()}\n\n${section}\n`);
    process.stdout.write('wrote the sync section of bench/RESULTS.md\n');
  }
  if (!complete && relay && !relay.error && !args.quick) {
    // A full-size S2 run on its own (--workloads S2) updates the relay section of RESULTS.md.
    const file = join(here, 'RESULTS.md');
    const old = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmark results\n';
    const section = relayMarkdown(relay, command, report.date).join('\n');
    const at = old.indexOf('## Relay (S2');
    const next = at < 0 ? -1 : old.indexOf('\n## ', at + 1);
    const updated = at < 0 ? old.replace('\n## Durability and versions', () => `\n${section}\n## Durability and versions`) : old.slice(0, at) + section + (next < 0 ? '' : old.slice(next + 1));
    writeFileSync(file, updated.includes(section) ? updated : `${old.trimEnd()}\n\n${section}\n`);
    process.stdout.write('wrote the relay section of bench/RESULTS.md\n');
  }
}

if (!args['no-save'] && !complete && dashboard && !dashboard.error && !args.quick) {
  // A full-size D1 run on its own (--workloads D1) updates the dashboard section of RESULTS.md.
  const file = join(here, 'RESULTS.md');
  const old = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmark results\n';
  const section = dashboardMarkdown(dashboard, command, report.date).join('\n');
  const at = old.indexOf('## Dashboard at plant scale (D1');
  const next = at < 0 ? -1 : old.indexOf('\n## ', at + 1);
  writeFileSync(file, at < 0 ? `${old.trimEnd()}\n\n${section}\n` : `${old.slice(0, at)}${section.trimEnd()}\n\n${next < 0 ? '' : old.slice(next + 1)}`);
  process.stdout.write('wrote the dashboard section of bench/RESULTS.md\n');
}

if (!args['no-save'] && !complete && peers && !peers.error && !args.quick) {
  // A full-size P1 run on its own (--workloads P1) updates the side-by-side section of RESULTS.md.
  const file = join(here, 'RESULTS.md');
  const old = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmark results\n';
  const section = peersMarkdown(peers, command, report.date, false, environment).join('\n');
  const at = old.indexOf('## Sync side by side (issue 26, P1)');
  const next = at < 0 ? -1 : old.indexOf('\n## ', at + 1);
  // A function as the replacement: the section holds `$` followed by a backtick, which a replacement string would expand.
  const updated = at < 0 ? old.replace('\n## Durability and versions', () => `\n${section}\n## Durability and versions`) : old.slice(0, at) + section + (next < 0 ? '' : old.slice(next + 1));
  writeFileSync(file, updated.includes(section) ? updated : `${old.trimEnd()}\n\n${section}\n`);
  process.stdout.write('wrote the side-by-side section (P1) of bench/RESULTS.md\n');
}

const failed = report.results.some((a) => a.error || a.workloads.some((w) => w.error)) || sync?.error !== undefined || relay?.error !== undefined || commits?.error !== undefined || dashboard?.error !== undefined || peers?.error !== undefined;
process.exitCode = failed ? 1 : 0;
