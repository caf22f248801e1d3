// Bundles a test page with Vite (sources through the `@cse/source` condition) and serves it on
// loopback, for the specs that drive headless Chromium.
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { build } from 'vite';

export interface ServedPage {
  /** `http://127.0.0.1:<port>/index.html` */
  readonly url: string;
  close(): Promise<void>;
}

export async function servePage(root: string, out: string): Promise<ServedPage> {
  await build({
    root,
    logLevel: 'warn',
    configFile: false,
    resolve: { conditions: ['@cse/source', 'browser', 'module', 'import', 'default'] },
    build: { outDir: out, emptyOutDir: true, minify: false, target: 'es2022' },
  });
  const http: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    try {
      const body = readFileSync(join(out, path === '/' ? 'index.html' : path));
      res.writeHead(200, { 'content-type': extname(path) === '.js' ? 'text/javascript' : 'text/html' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/index.html`,
    close: () => new Promise<void>((r) => http.close(() => r())),
  };
}
