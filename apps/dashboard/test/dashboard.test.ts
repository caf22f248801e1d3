// What `npm start` runs, end to end, in Debian's headless Chromium: the launcher and its real
// processes (the Edge with its simulated machines, the cse-relay, the dashboard's static server)
// on a temp data folder and free ports. The page pairs through the relay, shows the machines,
// edits a desired state that the Edge applies, keeps editing while the relay is down (SIGKILL),
// syncs when it is back, shows a conflict the user resolves, and reloads from its IndexedDB
// replica without pairing again or a full resync. Then Ctrl-C (SIGINT) stops every process and a
// second start resumes on the same data (same Edge id, same machines). A screenshot of each state
// goes to test-artifacts/ (gitignored).
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TriangularStore, openStore } from '@cse/core';
import { SecureEdge } from '@cse/sync';
import type { Store } from '@cse/core';
import { SqliteAdapter } from '@cse/adapter-sqlite';
import { WORKER_TYPE, machineRegistry } from '../shared/machines.js';
import { buildPage, launchChromium } from '../../../test-support/chromium.js';
import { ctrlC, freePort, killAll, start, until } from './launcher.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const app = resolve(here, '..');
const artifacts = join(app, 'test-artifacts');
const WORKERS = 12;
let dir = '';
let web = '';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

type PageState = { status: string; received: number; startCursors: Record<string, number>; pending: number; progressSeen: string[]; tabs: number; error?: string };
const pageState = (page: Page): Promise<PageState | undefined> => page.evaluate(() => (window as unknown as { cseDashboard?: PageState }).cseDashboard && { ...(window as unknown as { cseDashboard: PageState }).cseDashboard });

const docStatus = (page: Page, worker: string, doc: string): Promise<string | null> =>
  page.locator(`tr[data-worker="${worker}"] [data-doc="${doc}"]`).getAttribute('data-status', { timeout: 5000 });

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: false });
}

/** The Edge's desired document of a machine, read from its SQLite file by another connection. */
async function edgeDesired(store: Store, id: string): Promise<Record<string, unknown> | undefined> {
  return new TriangularStore(store, machineRegistry()).loadDesired(WORKER_TYPE, id);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cse-dashboard-'));
  mkdirSync(artifacts, { recursive: true });
  web = join(dir, 'web');
  await buildPage(join(app, 'web'), web, { base: './' });
}, 120_000);

afterAll(() => {
  killAll();
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

describe('npm start: the Edge, the link and the dashboard in Chromium', () => {
  it('pairs, shows the machines, edits, works offline, resolves a conflict, reloads without a full resync, stops and resumes', { timeout: 600_000 }, async () => {
    const data = join(dir, 'data');
    const ports = { port: await freePort(), relay: await freePort() };
    const args = ['--data', data, '--port', String(ports.port), '--relay-port', String(ports.relay), '--workers', String(WORKERS), '--tick-ms', '1500', '--fail-rate', '0.01', '--hmi-rate', '0', '--restart-delay-ms', '10000', '--web', web];
    let run = await start(args);
    const edgeStore = openStore(new SqliteAdapter({ path: join(data, 'edge.db') }));
    let browser: Browser | undefined;
    try {
      browser = await launchChromium();
      const context = await browser.newContext({ viewport: { width: 1240, height: 900 } });
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(run.url);

      // 1. Paired and live: every machine with its identity, desired and observed state.
      await page.locator('#connection[data-status="live"]').waitFor({ timeout: 60_000 });
      await until('every machine on the page', async () => (await page.locator('tr[data-worker]').count()) === WORKERS);
      expect(await page.locator('tr[data-worker="m01"] .name').textContent()).toBe('Pump 01');
      for (const doc of ['identity', 'desired', 'observed']) expect(await docStatus(page, 'm01', doc)).toBe('synced');
      expect(await page.locator('#pairing').isHidden()).toBe(true);
      expect(page.url(), 'the one-time code leaves the address bar').not.toContain('pair=');
      const first = (await pageState(page)) as PageState;
      expect(first.progressSeen.length, 'the initial sync showed its progress bar').toBeGreaterThan(0);
      expect(first.progressSeen.at(-1)).toMatch(/^First sync with the Edge: \d+ changes? received, \d+% \(change \d+ of \d+\)$/);
      await shot(page, '01-live');

      // A second tab joins the same sync (the SharedWorker that holds the replica): live at once,
      // with the same machines, and it may edit too (no second sync on the same replica).
      const second = await context.newPage();
      second.on('pageerror', (e) => errors.push(String(e)));
      await second.goto(run.url.replace(/#.*$/, ''));
      await second.locator('#connection[data-status="live"]').waitFor({ timeout: 60_000 });
      await until('the machines in the second tab', async () => (await second.locator('tr[data-worker]').count()) === WORKERS);
      expect(await second.locator('#other-tab').isHidden()).toBe(true);
      expect(await second.locator('#pairing').isHidden()).toBe(true);
      expect(await second.locator('tr[data-worker="m01"] button[data-action="edit"]').isEnabled()).toBe(true);
      await until('the sync serves two tabs', async () => (await pageState(page))?.tabs === 2);
      // Closed tabs leave the sync (it computes no more windows for them): reloads do not pile up.
      await second.reload();
      await second.locator('#connection[data-status="live"]').waitFor({ timeout: 60_000 });
      await until('still two tabs after a reload', async () => (await pageState(page))?.tabs === 2 && (await pageState(second))?.tabs === 2);
      await second.close({ runBeforeUnload: true });
      await until('one tab once the second closed', async () => (await pageState(page))?.tabs === 1);

      // 2. An edit: applied on the Edge, then the machine gets there (the observed speed follows).
      await page.locator('tr[data-worker="m02"] button[data-action="edit"]').click();
      await page.locator('tr[data-worker="m02"] select[name="state"]').selectOption('running');
      await page.locator('tr[data-worker="m02"] input[name="speed"]').fill('2500');
      // The machine reports while the user types (a report written on the Edge here, so it surely
      // comes): the open form keeps the typed value.
      await new TriangularStore(edgeStore, machineRegistry()).saveObserved(WORKER_TYPE, 'm02', { state: 'running', speed: 977, temperatureC: 99.5, reportedAt: new Date().toISOString() });
      await until('the report of m02 while its form is open', async () => (await page.locator('tr[data-worker="m02"] td.observed').textContent())?.includes('99.5 °C'));
      expect(await page.locator('tr[data-worker="m02"] input[name="speed"]').inputValue()).toBe('2500');
      await page.locator('tr[data-worker="m02"] button[type="submit"]').click();
      await until('the edit applied on the Edge', async () => (await edgeDesired(edgeStore, 'm02'))?.speed === 2500);
      await until('the edit synced in the page', async () => (await docStatus(page, 'm02', 'desired')) === 'synced');
      await until('the machine reaching the new speed', async () => (await page.locator('tr[data-worker="m02"] td.observed').textContent())?.includes('2500 rpm'));
      await page.locator('tr[data-worker="m02"] [data-outcome="applied"]').waitFor({ timeout: 10_000 });
      await shot(page, '02-edited');

      // 2b. Two operators: the form opened on m05's version; another operator's edit reaches the
      //     page while it is open. Saving is based on what the form showed: a visible conflict,
      //     not a silent overwrite. "Keep the Edge's value" settles it.
      const m05 = (await edgeDesired(edgeStore, 'm05')) as Record<string, unknown>;
      await page.locator('tr[data-worker="m05"] button[data-action="edit"]').click();
      await page.locator('tr[data-worker="m05"] input[name="speed"]').fill('2900');
      await new TriangularStore(edgeStore, machineRegistry()).saveDesired(WORKER_TYPE, 'm05', { state: 'stopped', speed: 650 }, { expectedVersion: m05._version as number });
      await until('the other edit in the page', async () => Number(await page.locator('tr[data-worker="m05"]').getAttribute('data-desired-version')) === (m05._version as number) + 1);
      await page.locator('tr[data-worker="m05"] button[type="submit"]').click();
      await until('the conflict on m05', async () => (await docStatus(page, 'm05', 'desired')) === 'conflict');
      await page.locator('tr[data-worker="m05"] [data-outcome="conflict"]').waitFor({ timeout: 10_000 });
      expect(await edgeDesired(edgeStore, 'm05'), 'the other operator\'s edit stays').toMatchObject({ speed: 650 });
      await page.locator('tr[data-conflict="m05"] button[data-action="theirs"]').click();
      await until('m05 settled', async () => (await docStatus(page, 'm05', 'desired')) === 'synced');

      // 3. The relay dies (SIGKILL; the launcher restarts it after 10 s). Meanwhile someone writes
      //    m03's desired state on the Edge, and the user edits m03 and m04 in the page.
      const m03 = (await edgeDesired(edgeStore, 'm03')) as Record<string, unknown>;
      process.kill(run.relayPid, 'SIGKILL');
      await until('the page offline', async () => ['offline', 'connecting'].includes((await page.locator('#connection').getAttribute('data-status')) ?? ''));
      await new TriangularStore(edgeStore, machineRegistry()).saveDesired(WORKER_TYPE, 'm03', { state: 'stopped', speed: 900 }, { expectedVersion: m03._version as number });
      for (const [id, speed] of [['m03', '1750'], ['m04', '1250']] as const) {
        await page.locator(`tr[data-worker="${id}"] button[data-action="edit"]`).click();
        await page.locator(`tr[data-worker="${id}"] input[name="speed"]`).fill(speed);
        await page.locator(`tr[data-worker="${id}"] button[type="submit"]`).click();
        await until(`${id} pending at once`, async () => (await docStatus(page, id, 'desired')) === 'pending');
      }
      expect(['offline', 'connecting'], 'the edits were made while offline').toContain(await page.locator('#connection').getAttribute('data-status'));
      await expect.poll(() => page.locator('#summary').textContent()).toContain('2 edits pending');
      await shot(page, '03-offline-edits');

      // 4. Back: m04's edit is applied; m03's was based on an older version: a visible conflict.
      await page.locator('#connection[data-status="live"]').waitFor({ timeout: 60_000 });
      await until('m04 applied on the Edge', async () => (await edgeDesired(edgeStore, 'm04'))?.speed === 1250);
      await until('m04 synced', async () => (await docStatus(page, 'm04', 'desired')) === 'synced');
      await until('the conflict on m03', async () => (await docStatus(page, 'm03', 'desired')) === 'conflict');
      await page.locator('tr[data-worker="m04"] [data-outcome="applied"]').waitFor({ timeout: 10_000 });
      await page.locator('tr[data-worker="m03"] [data-outcome="conflict"]').waitFor({ timeout: 10_000 });
      const conflict = page.locator('tr[data-conflict="m03"]');
      expect(await conflict.textContent()).toContain('1750 rpm'); // mine
      expect(await conflict.textContent()).toContain('900 rpm'); // the Edge's
      expect((await edgeDesired(edgeStore, 'm03'))?.speed, 'a stale edit never overwrites the Edge').toBe(900);
      await shot(page, '04-conflict');
      await page.screenshot({ path: join(artifacts, 'readme.png'), clip: { x: 0, y: 0, width: 1240, height: 582 } }); // docs/dashboard.png is one of these

      // 5. Resolved with "Keep my edit": the Edge gets it.
      await conflict.locator('button[data-action="mine"]').click();
      await until('my value applied on the Edge', async () => (await edgeDesired(edgeStore, 'm03'))?.speed === 1750);
      await until('m03 synced', async () => (await docStatus(page, 'm03', 'desired')) === 'synced');
      expect(await page.locator('tr[data-conflict]').count()).toBe(0);
      await shot(page, '05-resolved');

      // 6. Reload: no pairing again; the replica loads from IndexedDB and resumes from its cursors.
      const documents = WORKERS * 3;
      await page.reload();
      await page.locator('tr[data-worker]').first().waitFor({ timeout: 60_000 });
      const after = await until('the reloaded page live', async () => {
        const s = await pageState(page);
        return s?.status === 'live' && Object.keys(s.startCursors).length > 0 && s;
      });
      expect(Math.min(...Object.values(after.startCursors)), 'the replica starts from its cursors, not 0').toBeGreaterThan(0);
      expect(after.received, `${after.received} changes received after the reload, for ${documents} documents`).toBeLessThan(documents);
      expect(await page.locator('tr[data-worker]').count()).toBe(WORKERS);
      expect(await page.locator('#pairing').isHidden(), 'a reload does not pair again').toBe(true);
      const paired = await (await SecureEdge.open({ store: edgeStore })).listPaired();
      expect(paired.map((p) => p.revoked)).toEqual([false]);
      await shot(page, '06-reloaded');

      // 6b. The code npm start printed is an admin grant: this page may pair other browsers. It
      //     makes a viewer code; another browser pairs with its link and sees the machines, with
      //     no Edit (the Edge would refuse its writes anyway); this page keeps its Edit buttons.
      expect(paired[0]?.grant).toMatchObject({ preset: 'admin' });
      await page.locator('#share').waitFor({ state: 'visible', timeout: 30_000 });
      await page.locator('#share-viewer').click();
      const link = await page.locator('#share-result a.share-link').getAttribute('href', { timeout: 30_000 });
      expect(link).toContain('#pair=cse1.');
      const other = await browser.newContext({ viewport: { width: 1240, height: 900 } });
      const viewer = await other.newPage();
      viewer.on('pageerror', (e) => errors.push(String(e)));
      await viewer.goto(link as string);
      await viewer.locator('#connection[data-status="live"]').waitFor({ timeout: 60_000 });
      await until('the machines in the viewer', async () => (await viewer.locator('tr[data-worker]').count()) === WORKERS);
      await until('the viewer without Edit', async () => (await viewer.locator('#access').textContent())?.includes('view only'));
      expect(await viewer.locator('button[data-action="edit"]').count()).toBe(0);
      expect(await viewer.locator('#share').isHidden()).toBe(true);
      expect(await page.locator('button[data-action="edit"]').count()).toBe(WORKERS);
      const both = await (await SecureEdge.open({ store: edgeStore })).listPaired();
      expect(both.map((p) => p.grant?.preset).sort()).toEqual(['admin', 'viewer']);
      expect(both.every((p) => !p.revoked)).toBe(true);
      await shot(viewer, '06b-viewer');

      // 6c. Pairing management: the admin page lists both browsers and revokes the viewer, which
      //     then shows it is revoked (no more changes, no edits).
      await page.locator('#share-viewer').click(); // refreshes the list (and makes an unused code)
      await until('both browsers listed', async () => (await page.locator('#paired-list tr[data-paired]').count()) === 2);
      expect(await page.locator('#paired-list').textContent()).toContain('(this browser)');
      await page.locator('#paired-list button[data-revoke]').click();
      await until('the viewer listed as revoked', async () => (await page.locator('#paired-list tr[data-revoked="true"]').count()) === 1);
      await viewer.locator('#connection[data-status="revoked"]').waitFor({ timeout: 60_000 });
      expect(await viewer.locator('#revoked-note').isVisible()).toBe(true);
      expect((await (await SecureEdge.open({ store: edgeStore })).listPaired()).filter((p) => p.revoked).map((p) => p.grant?.preset)).toEqual(['viewer']);
      await shot(viewer, '06c-revoked');
      await other.close();
      expect(errors).toEqual([]);

      // 7. Ctrl-C (SIGINT to the process group) stops every process; a second start resumes on the same data.
      const relayPid = Number(/Relay is back \(pid (\d+)\)/.exec(run.out())?.[1]);
      expect(relayPid).toBeGreaterThan(0);
      ctrlC(run.proc);
      expect(await run.exited).toBe(0);
      expect(alive(run.edgePid), 'the Edge process stopped with the launcher').toBe(false);
      expect(alive(relayPid), 'the relay process stopped with the launcher').toBe(false);
      const firstEdgeId = run.edgeId;
      await until('the page offline', async () => ['offline', 'connecting'].includes((await page.locator('#connection').getAttribute('data-status')) ?? ''));
      run = await start(args);
      expect(run.edgeId, 'the same Edge identity').toBe(firstEdgeId);
      await page.goto(run.url.replace(/#.*$/, '')); // paired before: no code needed
      await page.locator('#connection[data-status="live"]').waitFor({ timeout: 60_000 });
      expect(await page.locator('tr[data-worker]').count()).toBe(WORKERS);
      expect((await edgeDesired(edgeStore, 'm03'))?.speed, 'the same data').toBe(1750);
      const identities = await edgeStore.find(`${WORKER_TYPE}_identity`);
      expect(identities.map((d) => d._version)).toEqual(Array.from({ length: WORKERS }, () => 1));
      expect(errors).toEqual([]);
      ctrlC(run.proc);
      expect(await run.exited).toBe(0);
    } catch (e) {
      console.error(`the launcher's output:\n${run.out()}`);
      throw e;
    } finally {
      await browser?.close();
      await edgeStore.close();
    }
  });
});
