// Issue 20, defect 4, in a real browser: `webSocketConnector` with headless Chromium's own
// WebSocket (no `terminate`, no ping API) gives up on an Edge behind a peer that accepts TCP and
// never answers (fixtures/tcp-proxy.ts black-holing it), after its timeout and at once on abort,
// lets the socket go, and connects once the peer answers. All on 127.0.0.1.
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright';
import type { Browser, Page } from 'playwright';
import { build } from 'vite';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { nodeWebSocketConnector, serveEdge } from '@cse/sync/node';
import type { EdgeServer } from '@cse/sync/node';
import { chromiumPath } from '../../../adapter-indexeddb/test/chromium-path.js';
import { tcpProxy } from '../fixtures/tcp-proxy.js';
import type { TcpProxy } from '../fixtures/tcp-proxy.js';
import { memoryEdge, until } from '../helpers.js';

const here = fileURLToPath(new URL('.', import.meta.url));
let dir = '';
let http: Server | undefined;
let pageUrl = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cse-timeout-browser-'));
  const out = join(dir, 'page');
  await build({
    root: join(here, 'timeout-page'),
    logLevel: 'warn',
    configFile: false,
    resolve: { conditions: ['@cse/source', 'browser', 'module', 'import', 'default'] },
    build: { outDir: out, emptyOutDir: true, minify: false, target: 'es2022' },
  });
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    let body: Buffer;
    try {
      body = readFileSync(join(out, path === '/' ? 'index.html' : path));
    } catch {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': extname(path) === '.js' ? 'text/javascript' : 'text/html' }).end(body);
  });
  http = server;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  pageUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/index.html`;
}, 120_000);

afterAll(async () => {
  await new Promise((r) => http?.close(r));
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

type Api = { start(url: string, timeoutMs: number): void; abort(): void; outcome(): Promise<string> };
const api = (page: Page): { start(url: string, ms: number): Promise<void>; abort(): Promise<void>; outcome(): Promise<string> } => ({
  start: (url, ms) => page.evaluate(([u, m]) => (window as unknown as { cseConnect: Api }).cseConnect.start(u, m), [url, ms] as const),
  abort: () => page.evaluate(() => (window as unknown as { cseConnect: Api }).cseConnect.abort()),
  outcome: () => page.evaluate(() => (window as unknown as { cseConnect: Api }).cseConnect.outcome()),
});

it('the browser WebSocket connector gives up on a silent peer after its timeout and on abort, then connects', async () => {
  const edge = memoryEdge();
  let server: EdgeServer | undefined;
  let proxy: TcpProxy | undefined;
  let browser: Browser | undefined;
  try {
    server = await serveEdge(edge.sync);
    proxy = await tcpProxy(server.port);
    const p = proxy;
    browser = await chromium.launch({
      executablePath: chromiumPath(),
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
    });
    const page = await browser.newPage();
    await page.goto(pageUrl);
    await page.waitForFunction(() => (window as unknown as { cseConnect?: unknown }).cseConnect !== undefined);
    const c = api(page);

    p.blackhole();
    await c.start(p.url, 300);
    expect(await c.outcome()).toBe('BACKEND:timeout');
    await until(() => p.open === 0, 'the browser to close the given-up socket');

    const before = p.accepted;
    await c.start(p.url, 60_000);
    await until(() => p.accepted > before, 'the attempt to reach the proxy');
    await c.abort();
    expect(await c.outcome()).toBe('CLOSED:aborted');
    await until(() => p.open === 0, 'the browser to close the aborted socket');

    p.restore();
    await c.start(p.url, 60_000);
    expect(await c.outcome()).toBe('open');
    // The same check from Node for comparison: the ws client answers the same way.
    (await nodeWebSocketConnector(p.url)()).close();
  } finally {
    await browser?.close();
    await proxy?.close();
    await edge.sync.close();
    await server?.close();
  }
});
