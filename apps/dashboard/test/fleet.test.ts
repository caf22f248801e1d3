// The dashboard at plant scale, in Debian's headless Chromium against the launcher's real
// processes: 2,000 machines on one Edge (first sync, an edit, search, filter, a machine's detail
// view with its history, a machine that stops marked stale), then three Edges in one page
// (`--edges 3`: one added with its code, one with its link; the fleet overview; drilling in).
import { appendFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Locator, Page } from 'playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPage, launchChromium } from '../../../test-support/chromium.js';
import { machineIdentity } from '../server/simulator.js';
import { ctrlC, freePort, killAll, start, until } from './launcher.js';

const app = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
const artifacts = join(app, 'test-artifacts');
let dir = '';
let web = '';
let browser: Browser | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cse-dashboard-fleet-'));
  mkdirSync(artifacts, { recursive: true });
  web = join(dir, 'web');
  await buildPage(join(app, 'web'), web, { base: './' });
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  killAll();
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

interface Fleet {
  edges: { edgeId: string; name: string; status: string; role?: string; counts: { machines: number; failed: number; notAtDesired: number; conflicts: number }; selected: boolean }[];
}
const fleet = (page: Page): Promise<Fleet> => page.evaluate(() => (window as unknown as { cseFleet: Fleet }).cseFleet);
/** The Edge shown (the others' views are hidden). */
const shown = (page: Page): Locator => page.locator('.edge-view:not([hidden])');
const drawnIds = (page: Page): Promise<string[]> => shown(page).locator('tr[data-worker]').evaluateAll((trs) => trs.map((t) => (t as HTMLElement).dataset.worker as string));

async function edit(page: Page, id: string, speed: string): Promise<void> {
  const row = shown(page).locator(`tr[data-worker="${id}"]`);
  await row.locator('button[data-action="edit"]').click();
  await row.locator('select[name="state"]').selectOption('running');
  await row.locator('input[name="speed"]').fill(speed);
  await row.locator('button[type="submit"]').click();
  await row.locator('[data-outcome="applied"]').waitFor({ timeout: 30_000 });
}

async function newPage(): Promise<{ page: Page; errors: string[] }> {
  const page = await (await (browser as Browser).newContext({ viewport: { width: 1240, height: 900 } })).newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  return { page, errors };
}

describe('the dashboard at plant scale', () => {
  it('2,000 machines on one Edge: first sync, an edit, search, filter, the detail view with its history, a stopped machine marked stale', { timeout: 300_000 }, async () => {
    const WORKERS = 2000;
    const data = join(dir, 'one');
    const args = ['--data', data, '--port', String(await freePort()), '--relay-port', String(await freePort()), '--workers', String(WORKERS), '--tick-ms', '2000', '--fail-rate', '0', '--hmi-rate', '0', '--web', web];
    const run = await start(args);
    try {
      const { page, errors } = await newPage();
      await page.goto(run.url);
      await shown(page).locator('#connection[data-status="live"]').waitFor({ timeout: 240_000 });
      await until('every machine in the page', async () => (await page.evaluate(() => (window as unknown as { cseDashboard: { machines: number } }).cseDashboard.machines)) === WORKERS);
      // The counts are drawn at the next frame.
      await until('the first reports of every machine', async () => {
        const summary = (await shown(page).locator('#summary').textContent()) ?? '';
        return summary.includes(`${WORKERS} machines`) && !summary.includes('loading');
      });
      expect(await shown(page).locator('tr[data-worker]').count(), 'only the rows near the viewport are drawn').toBeLessThan(100);
      await page.screenshot({ path: join(artifacts, 'fleet-2000-live.png') });
      // A machine loses power: no report from now on, not even a heartbeat (stale after 30 s).
      appendFileSync(join(data, 'unplugged'), 'm07\n');

      await edit(page, 'm02', '2450');
      await shown(page).locator('#search').fill('m1999');
      await until('only m1999', async () => (await drawnIds(page)).join() === 'm1999');
      await shown(page).locator('#search').fill('line b');
      const onLineB = Array.from({ length: WORKERS }, (_, i) => machineIdentity(i)).filter((m) => m.line === 'Line B').length;
      await until('the machines of Line B', async () => (await shown(page).locator('#shown').textContent()) === `${onLineB} of ${WORKERS} shown`);
      await shown(page).locator('#search').fill('');
      await shown(page).locator('#filter').selectOption('not-at-desired');
      await until('only machines not at their desired state', async () => {
        const n = await shown(page).locator('tr[data-worker]').count();
        return n > 0 && n === (await shown(page).locator('tr[data-worker]:has(mark.diff)').count());
      });
      await shown(page).locator('#filter').selectOption('all');

      // The detail view: identity, desired and observed in full, and who changed the desired state when.
      await shown(page).locator('tr[data-worker="m02"] button[data-action="detail"]').click();
      const detail = shown(page).locator('.detail[data-machine="m02"]');
      await detail.locator('.detail-history[data-loaded="true"]').waitFor({ timeout: 30_000 });
      expect(await detail.locator('[data-doc="identity"]').textContent()).toContain('serial');
      expect(await detail.locator('[data-doc="desired"]').textContent()).toContain('2450');
      expect(await detail.locator('[data-doc="observed"]').textContent()).toContain('reportedAt');
      expect(await detail.locator('.history tbody tr').count()).toBe(1);
      expect(await detail.locator('.history tbody tr').first().textContent()).toContain('dashboard');
      await detail.screenshot({ path: join(artifacts, 'fleet-detail.png') });
      await detail.locator('button[data-action="close-detail"]').click();

      // m07 stopped reporting: stale once three heartbeats are missed.
      await shown(page).locator('#filter').selectOption('stale');
      await until('m07 marked stale', async () => (await drawnIds(page)).join() === 'm07');
      await expect.poll(() => shown(page).locator('#summary').textContent(), { timeout: 30_000 }).toContain('1 stale');
      await page.screenshot({ path: join(artifacts, 'fleet-stale.png') });
      expect(errors).toEqual([]);
      ctrlC(run.proc);
      expect(await run.exited).toBe(0);
    } catch (e) {
      console.error(`the launcher's output:\n${run.out()}`);
      throw e;
    }
  });

  it('three Edges in one page: one added with its code, one with its link; the fleet overview; drilling into one; an edit there', { timeout: 300_000 }, async () => {
    const WORKERS = 60;
    const args = ['--edges', '3', '--data', join(dir, 'three'), '--port', String(await freePort()), '--relay-port', String(await freePort()), '--workers', String(WORKERS), '--tick-ms', '2000', '--fail-rate', '0', '--hmi-rate', '0', '--web', web];
    const run = await start(args);
    try {
      const links = new Map([...run.out().matchAll(/^ {2}Edge (\d): (\S+)$/gm)].map((m) => [Number(m[1]), m[2] as string]));
      expect([...links.keys()]).toEqual([2, 3]);
      const { page, errors } = await newPage();
      await page.goto(run.url);
      await shown(page).locator('#connection[data-status="live"]').waitFor({ timeout: 120_000 });
      // The launcher's three Edges are listed; two wait for their codes.
      await until('three Edges, two not paired', async () => (await fleet(page)).edges.filter((e) => e.role === 'unpaired').length === 2);
      // "Add an Edge" with Edge 2's code.
      const code2 = decodeURIComponent((links.get(2) as string).split('#pair=')[1] as string);
      await page.locator('#add-edge-code').fill(code2);
      await page.locator('#add-edge button[type="submit"]').click();
      await until('Edge 2 added and shown', async () => (await fleet(page)).edges[1]?.selected === true && (await fleet(page)).edges[1]?.role === 'sync');
      // Edge 3 with its link, in the same browser.
      await page.goto(links.get(3) as string);
      await until('all three Edges live with every machine', async () => {
        const f = await fleet(page);
        return f.edges.length === 3 && f.edges.every((e) => e.status === 'live' && e.counts.machines === WORKERS) && f;
      });
      expect((await fleet(page)).edges.map((e) => e.selected)).toEqual([false, false, true]);
      // The overview redraws at most every 500 ms: the statuses and the counts may land in different draws.
      const machineCounts = (): Promise<string[]> => page.locator('#fleet tr[data-edge] [data-count="machines"]').allTextContents();
      await until('the overview drawn', async () => (await page.locator('#fleet tr[data-edge][data-status="live"]').count()) === 3 && (await machineCounts()).every((n) => n === String(WORKERS))).catch(async (e: unknown) => {
        console.log(JSON.stringify(await fleet(page)), await page.locator('#fleet').innerHTML());
        throw e;
      });
      expect(await machineCounts()).toEqual([String(WORKERS), String(WORKERS), String(WORKERS)]);
      await page.screenshot({ path: join(artifacts, 'fleet-3-edges.png') });

      // Drill into Edge 2 and edit one of its machines: Edge 2's history has it, Edge 1 and 3 are untouched.
      const edge2 = (await fleet(page)).edges[1]?.edgeId as string;
      await page.locator(`#fleet button[data-open="${edge2}"]`).click();
      await until('Edge 2 shown', async () => (await shown(page).getAttribute('data-edge')) === edge2);
      await shown(page).locator('tr[data-worker="m03"]').waitFor();
      await edit(page, 'm03', '1234');
      await shown(page).locator('tr[data-worker="m03"] button[data-action="detail"]').click();
      await shown(page).locator('.detail[data-machine="m03"] .history tbody tr').first().waitFor({ timeout: 30_000 });
      for (const i of [0, 2]) {
        await page.locator(`#fleet button[data-open="${(await fleet(page)).edges[i]?.edgeId as string}"]`).click();
        await until(`Edge ${i + 1} shown`, async () => (await shown(page).getAttribute('data-edge')) === (await fleet(page)).edges[i]?.edgeId);
        await shown(page).locator('tr[data-worker="m03"]').waitFor();
        expect(await shown(page).locator('tr[data-worker="m03"] td.desired').textContent()).not.toContain('1234');
      }
      expect(errors).toEqual([]);
      ctrlC(run.proc);
      expect(await run.exited).toBe(0);
    } catch (e) {
      console.error(`the launcher's output:\n${run.out()}`);
      throw e;
    }
  });
});
