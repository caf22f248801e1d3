// The initial sync runs off the page's main thread: the launcher's real processes (Edge with
// simulated machines, relay, static server) and Debian's headless Chromium. A PerformanceObserver
// for `longtask`, installed before the page's first script, records every main-thread task over
// 50 ms from the first load until every machine is on the page and the sync is live (printed:
// wall time depends on the machine's load).
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPage, launchChromium } from '../../../test-support/chromium.js';
import { machineIdentity } from '../server/simulator.js';
import { ctrlC, freePort, killAll, start, until } from './launcher.js';

const app = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
const artifacts = join(app, 'test-artifacts');
/** A smaller count than the bench's: 3 documents each. */
const WORKERS = 600;
let dir = '';
let web = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cse-dashboard-main-'));
  mkdirSync(artifacts, { recursive: true });
  web = join(dir, 'web');
  await buildPage(join(app, 'web'), web, { base: './' });
}, 120_000);

afterAll(() => {
  killAll();
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

describe('the dashboard syncs in a worker', () => {
  it(`runs the first sync of ${WORKERS * 3} documents off the main thread, draws only the visible rows, and finds machines (natural order, search, filter)`, { timeout: 600_000 }, async () => {
    const args = ['--data', join(dir, 'data'), '--port', String(await freePort()), '--relay-port', String(await freePort()), '--workers', String(WORKERS), '--tick-ms', '5000', '--fail-rate', '0', '--hmi-rate', '0', '--web', web];
    const run = await start(args);
    let browser: Browser | undefined;
    try {
      browser = await launchChromium();
      const page = await (await browser.newContext({ viewport: { width: 1240, height: 900 } })).newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.addInitScript(() => {
        const w = window as unknown as { longTasks: number[]; databasesOpened: number };
        w.longTasks = [];
        w.databasesOpened = 0;
        const open = indexedDB.open.bind(indexedDB);
        indexedDB.open = (...a: Parameters<IDBFactory['open']>) => {
          w.databasesOpened++;
          return open(...a);
        };
        new PerformanceObserver((list) => {
          for (const e of list.getEntries()) w.longTasks.push(Math.round(e.duration));
        }).observe({ type: 'longtask', buffered: true });
      });
      await page.goto(run.url);
      await page.locator('#connection[data-status="live"]').waitFor({ timeout: 300_000 });
      const state = await until('every machine in the page', async () => {
        const s = await page.evaluate(() => (window as unknown as { cseDashboard: { machines: number; progressSeen: string[] } }).cseDashboard);
        return s.machines === WORKERS && s;
      });
      // The counts are drawn at the next frame.
      await until('the summary to count every machine', async () => (await page.locator('#summary').textContent())?.includes(`${WORKERS} machines`));
      const drawn = await page.locator('tr[data-worker]').count();
      expect(drawn, 'only the rows near the viewport are drawn').toBeLessThan(WORKERS / 4);
      expect(drawn).toBeGreaterThan(0);
      // Nor does the page hold every row: the worker keeps them and sends those near the viewport.
      const held = (): Promise<{ held: number; machines: number }> => page.evaluate(() => (window as unknown as { cseDashboard: { held: number; machines: number } }).cseDashboard);
      expect((await held()).held, 'the page holds the rows near the viewport only').toBeLessThan(WORKERS / 2);
      expect((await held()).held).toBeGreaterThanOrEqual(drawn);
      expect(state.progressSeen.length, 'the page showed the first sync in progress').toBeGreaterThan(0);
      const longTasks = await page.evaluate(() => (window as unknown as { longTasks: number[] }).longTasks);
      console.log(`main-thread tasks over 50 ms during the first sync of ${WORKERS} machines: [${longTasks.join(', ')}] ms`);
      // The sync and its replica are not on this thread at all: the page never opens IndexedDB,
      // yet the replica's database exists (the worker's).
      expect(await page.evaluate(() => (window as unknown as { databasesOpened: number }).databasesOpened)).toBe(0);
      expect((await page.evaluate(async () => (await indexedDB.databases()).map((d) => d.name))).some((n) => n?.startsWith('cse-dashboard-'))).toBe(true);
      // What is left on this thread is drawing a window of rows. How long a task takes depends on
      // the machine's load (wall time), so the figure is printed here and held to its 50 ms goal in
      // the bench (bench/dashboard.ts), not asserted.
      expect(longTasks.length, 'fewer long tasks than rows messages: not one per change').toBeLessThan(WORKERS / 20);

      // Scrolled to the end, the last machines are drawn (asked of the worker as the viewport
      // moves), the first ones are no longer held, and back at the top the first are drawn again.
      await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
      await until('the last machine drawn', async () => (await page.locator(`tr[data-worker="m${WORKERS}"]`).count()) === 1);
      expect((await held()).held).toBeLessThan(WORKERS / 2);
      expect(await page.locator('tr[data-worker="m01"]').count()).toBe(0);
      await page.evaluate(() => window.scrollTo(0, 0));
      await until('the first machine drawn again', async () => (await page.locator('tr[data-worker="m01"]').count()) === 1);

      // Finding machines: natural order (m2 before m10), search by serial and by line, a status filter.
      const drawnIds = (): Promise<string[]> => page.locator('tr[data-worker]').evaluateAll((trs) => trs.map((t) => (t as HTMLElement).dataset.worker as string));
      expect((await drawnIds()).slice(0, 11)).toEqual(['m01', 'm02', 'm03', 'm04', 'm05', 'm06', 'm07', 'm08', 'm09', 'm10', 'm11']);
      await page.locator('#search').fill(machineIdentity(433).serial.toLowerCase());
      await until('only the machine with that serial', async () => (await drawnIds()).join() === 'm434');
      const onLineC = Array.from({ length: WORKERS }, (_, i) => machineIdentity(i)).filter((m) => m.line === 'Line C').length;
      await page.locator('#search').fill('line c');
      await until('the machines of Line C', async () => (await page.locator('#shown').textContent()) === `${onLineC} of ${WORKERS} shown`);
      await page.locator('#search').fill('');
      await page.locator('#filter').selectOption('not-at-desired');
      await until('only machines not at their desired state', async () => {
        const shown = await page.locator('tr[data-worker]').count();
        return shown > 0 && shown === (await page.locator('tr[data-worker]:has(mark.diff)').count());
      });
      await page.locator('#filter').selectOption('all');
      await until('every machine shown again', async () => (await page.locator('#shown').textContent()) === '');

      // A tablet on the shop floor (800 px) and a phone (390 px): no horizontal scrolling.
      for (const width of [800, 390]) {
        await page.setViewportSize({ width, height: 1000 });
        await page.evaluate(() => window.scrollTo(0, 0));
        await page.locator('tr[data-worker="m01"]').waitFor();
        await page.screenshot({ path: join(artifacts, `layout-${width}px.png`) });
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        expect(overflow, `horizontal overflow at ${width} px`).toBeLessThanOrEqual(0);
      }

      // A browser that was never paired asks for a code (it is not "Offline").
      const stranger = await (await browser.newContext()).newPage();
      await stranger.goto(run.url.replace(/#.*$/, ''));
      await stranger.locator('#connection[data-status="unpaired"]').waitFor({ timeout: 60_000 });
      expect(await stranger.locator('#pairing').isVisible()).toBe(true);
      expect(await stranger.locator('.conn-label').textContent()).toBe('Not paired');
      expect(await stranger.locator('#offline-note').isHidden()).toBe(true);
      // With no machine yet, the summary does not count zero machines running.
      expect(await stranger.locator('#summary').textContent()).toBe('Waiting for the machines…');
      expect(errors).toEqual([]);
      ctrlC(run.proc);
      expect(await run.exited).toBe(0);
    } catch (e) {
      console.error(`the launcher's output:\n${run.out()}`);
      throw e;
    } finally {
      await browser?.close();
    }
  });
});
