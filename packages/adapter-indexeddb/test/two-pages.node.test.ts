/**
 * Two pages of one Chromium context on one IndexedDB database (two tabs): a write in one
 * appears in the other's watch, through the BroadcastChannel feed. Node drives Debian's
 * Chromium with Playwright; the page is test/two-pages/page.ts bundled by esbuild and served on
 * loopback. Runs in the Node project (the browser project runs one page only).
 */
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { bundleScript, launchChromium, serveScript } from '../../../test-support/chromium.js';

type Cse = { seen: string[]; open(name: string): Promise<void>; watch(): void; write(id: string): Promise<void> };
declare const cse: Cse;

let browser: Browser | undefined;
let close: (() => Promise<void>) | undefined;
let url = '';

beforeAll(async () => {
  const script = await bundleScript(fileURLToPath(new URL('./two-pages/page.ts', import.meta.url)), { conditions: ['@cse/source'] });
  ({ url, close } = await serveScript(script));
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await close?.();
});

async function tab(context: Awaited<ReturnType<Browser['newContext']>>, name: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(url);
  await page.waitForFunction(() => typeof (globalThis as { cse?: unknown }).cse === 'object');
  await page.evaluate((n) => cse.open(n), name);
  return page;
}

it('a write in one page appears in the other page’s watch', async () => {
  const context = await (browser as Browser).newContext();
  const name = `cse-two-pages-${crypto.randomUUID()}`;
  const [watcher, writer] = [await tab(context, name), await tab(context, name)];
  await watcher.evaluate(() => cse.watch());
  for (const id of ['one', 'two', 'three']) await writer.evaluate((i) => cse.write(i), id);
  // A bounded wait: a feed that drops signals fails here instead of hanging.
  await watcher.waitForFunction(() => cse.seen.length >= 3, undefined, { timeout: 60_000 });
  expect(await watcher.evaluate(() => cse.seen)).toEqual(['one', 'two', 'three']);
  // And the other way round.
  await writer.evaluate(() => cse.watch());
  await watcher.evaluate(() => cse.write('back'));
  await writer.waitForFunction(() => cse.seen.includes('back'), undefined, { timeout: 60_000 });
  await context.close();
}, 60_000);
