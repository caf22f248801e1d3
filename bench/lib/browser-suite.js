// The IndexedDB workloads in real headless Chromium (Debian's /usr/bin/chromium, or
// CHROMIUM_PATH) on its on-disk IndexedDB: bundles bench/browser/page.js with esbuild (the
// packages' built dist/, like the Node suites), serves it on 127.0.0.1, opens it in a persistent
// profile in a temporary directory (so IndexedDB lives on disk) and runs the workloads there.
// Same contract as lib/suite.js: config JSON in argv[2], the result JSON to config.out.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleScript, launchPersistentChromium, serveScript } from '../../test-support/chromium.js';
import { LOAD_TARGET, LOAD_TITLE, runLoad } from './load-suite.js';

const here = dirname(fileURLToPath(import.meta.url));
const { out, params, workloads } = JSON.parse(process.argv[2]);
const log = (line) => process.stderr.write(`[indexeddb-chromium] ${line}\n`);
const EXTRA_ARGS = ['--enable-precise-memory-info', '--js-flags=--expose-gc'];

const result = {
  adapter: 'indexeddb-chromium',
  package: '@cse/adapter-indexeddb',
  durability: "Chromium's on-disk IndexedDB (persistent profile in a temporary directory), durability hint 'default' on both sides; W6 and W7 are not run in the browser; L1's Edge is a Node process on SQLite synchronous=FULL",
  workloads: [],
};
const profile = mkdtempSync(join(tmpdir(), 'cse-bench-chromium-'));
let server;
let context;
try {
  // The packages' built dist/ (no @cse/source condition), like the Node suites.
  server = await serveScript(await bundleScript(join(here, '..', 'browser', 'page.js')), 'cse bench');
  context = await launchPersistentChromium(profile, { extraArgs: EXTRA_ARGS });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (m) => (m.type() === 'error' ? log(`console: ${m.text()}`) : undefined));
  await page.goto(server.url);
  await page.waitForFunction(() => typeof globalThis.benchSuite === 'function', undefined, { timeout: 60_000 });
  result.facts = { chromium: await context.browser()?.version?.() ?? (await page.evaluate(() => globalThis.navigator.userAgent)) };
  log('running W1-W5 in the page');
  const r = await page.evaluate((config) => globalThis.benchSuite(config), { params, workloads });
  for (const w of r.workloads) if (w.error) log(`${w.id} failed: ${w.error}`);
  result.workloads = r.workloads;
  if (!workloads || workloads.includes('L1')) {
    log('running L1 (initial load) in the page');
    try {
      result.workloads.push(await runLoad(page, params, log));
    } catch (e) {
      log(`L1 failed: ${e.stack ?? e}`);
      result.workloads.push({ id: 'L1', title: LOAD_TITLE, unit: 'docs/s', target: LOAD_TARGET, error: String(e?.stack ?? e) });
    }
  }
} catch (e) {
  log(`failed: ${e.stack ?? e}`);
  result.error = String(e.message ?? e);
} finally {
  await context?.close().catch(() => undefined);
  await server?.close();
  rmSync(profile, { recursive: true, force: true });
}
writeFileSync(out, JSON.stringify(result));
