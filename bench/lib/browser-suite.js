// The IndexedDB workloads in real headless Chromium (Debian's /usr/bin/chromium, or
// CHROMIUM_PATH) on its on-disk IndexedDB: bundles bench/browser/page.js with esbuild (the
// packages' built dist/, like the Node suites), serves it on 127.0.0.1, opens it in a persistent
// profile in a temporary directory (so IndexedDB lives on disk) and runs the workloads there.
// Same contract as lib/suite.js: config JSON in argv[2], the result JSON to config.out.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const { out, params, workloads } = JSON.parse(process.argv[2]);
const log = (line) => process.stderr.write(`[indexeddb-chromium] ${line}\n`);
const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync', '--enable-precise-memory-info', '--js-flags=--expose-gc'];

const result = {
  adapter: 'indexeddb-chromium',
  package: '@cse/adapter-indexeddb',
  durability: "Chromium's on-disk IndexedDB (persistent profile in a temporary directory), durability hint 'default' on both sides; W6 and W7 are not run in the browser",
  workloads: [],
};
const profile = mkdtempSync(join(tmpdir(), 'cse-bench-chromium-'));
let server;
let context;
try {
  if (!existsSync(executablePath)) throw new Error(`no Chromium at ${executablePath}: install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH`);
  const { build } = await import('esbuild');
  const { chromium } = await import('playwright');
  const bundle = await build({ entryPoints: [join(here, '..', 'browser', 'page.js')], bundle: true, format: 'esm', platform: 'browser', write: false, logLevel: 'error' });
  const script = bundle.outputFiles[0].text;
  server = createServer((req, res) => {
    if (req.url === '/page.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    else res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>cse bench</title><script type="module" src="/page.js"></script>');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}/`;
  context = await chromium.launchPersistentContext(profile, { executablePath, headless: true, args: ARGS });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (m) => (m.type() === 'error' ? log(`console: ${m.text()}`) : undefined));
  await page.goto(url);
  await page.waitForFunction(() => typeof globalThis.benchSuite === 'function', undefined, { timeout: 60_000 });
  result.facts = { chromium: await context.browser()?.version?.() ?? (await page.evaluate(() => globalThis.navigator.userAgent)) };
  log('running W1-W5 in the page');
  const r = await page.evaluate((config) => globalThis.benchSuite(config), { params, workloads });
  for (const w of r.workloads) if (w.error) log(`${w.id} failed: ${w.error}`);
  result.workloads = r.workloads;
} catch (e) {
  log(`failed: ${e.stack ?? e}`);
  result.error = String(e.message ?? e);
} finally {
  await context?.close().catch(() => undefined);
  await new Promise((resolve) => (server ? server.close(resolve) : resolve()));
  rmSync(profile, { recursive: true, force: true });
}
writeFileSync(out, JSON.stringify(result));
