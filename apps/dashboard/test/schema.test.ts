// S12 with real processes and Chromium: `npm start -- --schema 1 --dashboard-schema 2` runs an
// Edge at schema version 1 and a page at version 2: the page says "Reload to update" for the
// machine worker type (its rows paused, nothing of it synced). The launcher is then stopped and
// started at version 2 on the same data while the page stays open: the Edge migrates (logged with
// counts), the notice goes away and the machines sync, their observed temperature in version 2.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPage, launchChromium } from '../../../test-support/chromium.js';
import { ctrlC, freePort, killAll, start, until } from './launcher.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const app = resolve(here, '..');
const WORKERS = 4;
let dir = '';
let web = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cse-dashboard-schema-'));
  web = join(dir, 'web');
  await buildPage(join(app, 'web'), web, { base: './' });
}, 120_000);

afterAll(() => {
  killAll();
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

describe('schema versions between the Edge and the dashboard (S12)', () => {
  it('an Edge at version 1 and a page at 2: "Reload to update" for machines; the Edge migrated while the page is open: it syncs', { timeout: 300_000 }, async () => {
    const data = join(dir, 'data');
    const ports = { port: await freePort(), relay: await freePort() };
    const common = ['--data', data, '--port', String(ports.port), '--relay-port', String(ports.relay), '--workers', String(WORKERS), '--tick-ms', '500', '--fail-rate', '0', '--hmi-rate', '0', '--restart-delay-ms', '10000', '--web', web];
    let run = await start([...common, '--schema', '1', '--dashboard-schema', '2']);
    let browser: Browser | undefined;
    try {
      browser = await launchChromium();
      const page = await (await browser.newContext()).newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(run.url);
      await page.locator('#update-required').waitFor({ timeout: 60_000 });
      expect(await page.locator('#update-required').textContent()).toContain('machine');
      expect(await page.locator('#update-required button').textContent()).toBe('Reload to update');
      expect(await page.locator('tr[data-worker]').count(), 'nothing of the paused type synced').toBe(0);
      expect(run.out()).toMatch(/schema: machine documents at version 1/);

      // The Edge's next release, on the same data, while the page stays open.
      ctrlC(run.proc);
      expect(await run.exited).toBe(0);
      run = await start(common);
      expect(run.out()).toMatch(new RegExp(`schema: migrated ${WORKERS * 3} machine documents to version 2`));
      await until('the machines synced', async () => (await page.locator('tr[data-worker]').count()) === WORKERS);
      await until('the notice gone', async () => (await page.locator('#update-required').count()) === 0);
      await until('the observed temperature shown', async () => /\d+(\.\d)? °C/.test((await page.locator('tr[data-worker="m01"] td.observed').textContent()) ?? ''));
      expect(await page.locator('tr[data-update-required]').count()).toBe(0);
      expect(errors).toEqual([]);
      ctrlC(run.proc);
      expect(await run.exited).toBe(0);
    } finally {
      await browser?.close();
    }
  });
});
