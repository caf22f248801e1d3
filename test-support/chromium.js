// Headless Chromium for the browser tests and the bench's browser suite: Debian's
// /usr/bin/chromium (or CHROMIUM_PATH) driven by Playwright, never a downloaded browser, and a
// page bundled with Vite and served on 127.0.0.1. Plain JavaScript (with chromium.d.ts), so the
// bench imports it under plain Node as the TypeScript tests do.
import { accessSync, constants, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join } from 'node:path';

/** Flags of every headless Chromium the tests and the bench start (containers and CI included). */
export const CHROMIUM_ARGS = Object.freeze([
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
]);

/** The Chromium to drive: `CHROMIUM_PATH`, or Debian's `/usr/bin/chromium`. */
export function chromiumPath() {
  return process.env.CHROMIUM_PATH || '/usr/bin/chromium';
}

/** Throws, saying how to install it, unless the Chromium of `chromiumPath()` can run. */
export function assertChromium(what = 'this test') {
  const path = chromiumPath();
  try {
    accessSync(path, constants.X_OK);
  } catch (e) {
    throw new Error(`${what} needs Chromium at ${path}: install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH`, { cause: e });
  }
  return path;
}

/** Launches headless Chromium (`extraArgs` after the usual flags). */
export async function launchChromium({ extraArgs = [] } = {}) {
  const executablePath = assertChromium();
  const { chromium } = await import('playwright');
  return chromium.launch({ executablePath, headless: true, args: [...CHROMIUM_ARGS, ...extraArgs] });
}

/** Launches headless Chromium on a persistent profile in `profileDir` (IndexedDB on disk). */
export async function launchPersistentChromium(profileDir, { extraArgs = [] } = {}) {
  const executablePath = assertChromium();
  const { chromium } = await import('playwright');
  return chromium.launchPersistentContext(profileDir, { executablePath, headless: true, args: [...CHROMIUM_ARGS, ...extraArgs] });
}

/**
 * Bundles the page in `root` (its index.html and what it imports, `@cse/*` from their
 * TypeScript sources) into `outDir` with Vite.
 */
export async function buildPage(root, outDir, { base } = {}) {
  const { build } = await import('vite');
  await build({
    root,
    ...(base === undefined ? {} : { base }),
    logLevel: 'warn',
    configFile: false,
    resolve: { conditions: ['@cse/source', 'browser', 'module', 'import', 'default'] },
    build: { outDir, emptyOutDir: true, minify: false, target: 'es2022' },
  });
}

/** Serves the files of `dir` on a free 127.0.0.1 port; `url` is its index.html. */
export async function serveDir(dir) {
  const http = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    try {
      const body = readFileSync(join(dir, path === '/' ? 'index.html' : path));
      res.writeHead(200, { 'content-type': extname(path) === '.js' ? 'text/javascript' : extname(path) === '.css' ? 'text/css' : 'text/html' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  return listen(http, '/index.html');
}

/** Bundles the module `entry` for the browser with esbuild, in memory (`conditions` e.g. `['@cse/source']`). */
export async function bundleScript(entry, { conditions = [] } = {}) {
  const { build } = await import('esbuild');
  const bundle = await build({ entryPoints: [entry], bundle: true, format: 'esm', platform: 'browser', conditions, write: false, logLevel: 'error' });
  return bundle.outputFiles[0]?.text ?? '';
}

/** Serves `script` as /page.js behind a minimal HTML page (`url`) on a free 127.0.0.1 port. */
export async function serveScript(script, title = 'cse') {
  const http = createServer((req, res) => {
    if (req.url === '/page.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    else res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><title>${title}</title><script type="module" src="/page.js"></script>`);
  });
  return listen(http, '/');
}

async function listen(http, path) {
  await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${http.address().port}${path}`,
    close: () => new Promise((resolve) => http.close(() => resolve())),
  };
}
