// What a new user hit, checked end to end in Debian's headless Chromium against the launcher's real
// processes (one start for the page cases): `npm start` says it is building before its silent
// build; a live page reloads without the offline note flashing and without a failed request
// (favicon included); a Save that fails (this browser's pairing revoked while its Edit form was
// open) is said on the machine's row, never in a browser dialog; and in a browser without
// SharedWorker a second tab is read-only, says where to edit, and takes over when the first closes.
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page } from 'playwright';
import { describe, expect, it } from 'vitest';
import { TriangularStore } from '@cse/core';
import { SecureEdge, grantPreset } from '@cse/sync';
import { WORKER_TYPE, machineRegistry } from '../shared/machines.js';
import { launchChromium } from '../../../test-support/chromium.js';
import { until, useDashboard } from './launcher.js';

const app = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
const repo = resolve(app, '../..');
const artifacts = join(app, 'test-artifacts');
const WORKERS = 6;
const dashboard = useDashboard('cse-dashboard-new-user-', WORKERS);

/** The page's address without the one-time code. */
const base = (): string => dashboard().run.url.replace(/#.*$/, '');

/** A one-time operator code made on the Edge's store, as `cse-edge pair` in another process makes one. */
async function operatorCode(label: string): Promise<string> {
  return (await (await SecureEdge.open({ store: dashboard().edgeStore })).createPairingCode({ grant: grantPreset('operator'), label })).code;
}


/** Records every browser dialog (alert, confirm, prompt) of the page: the dashboard must open none. */
function watchDialogs(page: Page, dialogs: string[]): void {
  page.on('dialog', (d) => {
    dialogs.push(`${d.type()}: ${d.message()}`);
    void d.dismiss();
  });
}

async function live(page: Page): Promise<void> {
  await page.locator('#connection[data-status="live"]').waitFor({ timeout: 120_000 });
  await until('every machine on the page', async () => (await page.locator('tr[data-worker]').count()) === WORKERS);
}

describe('npm start', () => {
  it('says it is building before the silent build step, and before anything the launcher prints', { timeout: 300_000 }, async () => {
    // The user's shell, not the test runner's: NODE_ENV=test and VITEST_* would change the build.
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (k !== 'NODE_ENV' && !k.startsWith('VITEST')) env[k] = v;
    const npm = spawn('npm', ['start', '--', '--help'], { cwd: repo, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    npm.stdout.on('data', (b: Buffer) => (out += b.toString()));
    npm.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const code = await new Promise<number | null>((r) => npm.once('exit', (c) => r(c)));
    expect(code, out).toBe(0);
    // npm's own header ("> start", "> echo … && turbo …") aside, the first line says what is coming.
    const lines = out.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('> '));
    expect(lines[0], out).toMatch(/^Building CSE and its dashboard \(turbo; the first run takes a minute or two\)/);
    const usage = lines.findIndex((l) => l.startsWith('Usage: npm start'));
    expect(usage, 'the launcher ran after the build').toBeGreaterThan(0);
  });
});

describe('a new user in the dashboard', () => {
  it('a live page reloads with no offline note, not even for a moment, and no request fails (favicon included)', { timeout: 300_000 }, async () => {
    const context = await dashboard().browser.newContext({ viewport: { width: 1240, height: 900 } });
    const failed: string[] = [];
    const requested: string[] = [];
    context.on('request', (r) => requested.push(r.url()));
    context.on('response', (r) => {
      if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
    });
    context.on('requestfailed', (r) => {
      // On a reload Chromium starts fetching the SharedWorker's script, then joins the sync worker
      // the tab already had and cancels the fetch (no status, nothing lost): that one is expected.
      const why = r.failure()?.errorText ?? 'failed';
      if (!(why === 'net::ERR_ABORTED' && /\/assets\/sync-worker-[^/]*\.js$/.test(r.url()))) failed.push(`${why} ${r.url()}`);
    });
    // Before any script of each document: every time the offline note becomes visible, it is
    // written down in sessionStorage (kept across reloads of the tab), so a flash is caught too.
    await context.addInitScript(() => {
      let shown = false;
      new MutationObserver(() => {
        const note = document.getElementById('offline-note');
        const now = note !== null && note.checkVisibility();
        if (now && !shown) sessionStorage.setItem('offline-note-seen', `${sessionStorage.getItem('offline-note-seen') ?? ''}${location.pathname} at ${Math.round(performance.now())} ms;`);
        shown = now;
      }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['hidden'] });
    });
    const page = await context.newPage();
    const dialogs: string[] = [];
    watchDialogs(page, dialogs);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(dashboard().run.url);
    await live(page);
    // The first visit pairs and syncs; from here on the page is live and is reloaded.
    await page.evaluate(() => sessionStorage.removeItem('offline-note-seen'));
    for (let i = 0; i < 3; i++) {
      await page.reload();
      await live(page);
      expect(await page.evaluate(() => sessionStorage.getItem('offline-note-seen')), `the offline note during reload ${i + 1}`).toBeNull();
    }
    expect(await page.locator('#offline-note').isHidden()).toBe(true);
    // The watcher ran (it would catch a note that shows): make it show by hand, then undo.
    await page.evaluate(() => ((document.getElementById('offline-note') as HTMLElement).hidden = false));
    await until('the watcher to see the note', async () => (await page.evaluate(() => sessionStorage.getItem('offline-note-seen'))) !== null);
    await page.evaluate(() => ((document.getElementById('offline-note') as HTMLElement).hidden = true));

    expect(failed, 'no request of the page failed').toEqual([]);
    expect(requested.filter((u) => u.endsWith('/config.json')).length, 'the page was loaded four times').toBeGreaterThanOrEqual(4);
    expect(await page.locator('link[rel="icon"]').getAttribute('href'), 'an icon in the page, no /favicon.ico to miss').toMatch(/^data:image\/svg\+xml,/);
    expect(failed.filter((f) => f.includes('favicon')), 'no favicon request failed').toEqual([]);
    expect(dialogs).toEqual([]);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('a Save that fails (the pairing revoked while the form was open) says so on the machine\'s row, in no dialog, until dismissed', { timeout: 300_000 }, async () => {
    const label = 'new-user test (revoked)';
    const code = await operatorCode(label);
    const context = await dashboard().browser.newContext({ viewport: { width: 1240, height: 900 } });
    const page = await context.newPage();
    const dialogs: string[] = [];
    watchDialogs(page, dialogs);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${base()}#pair=${encodeURIComponent(code)}`);
    await live(page);
    const row = page.locator('tr[data-worker="m03"]');
    await until('m03 may be edited (operator)', async () => row.locator('button[data-action="edit"]').isEnabled());
    const before = (await dashboard().edgeDesired('m03')) as Record<string, unknown>;
    await row.locator('button[data-action="edit"]').click();
    await row.locator('select[name="state"]').selectOption('running');
    await row.locator('input[name="speed"]').fill('1234');

    // While the form is open, this browser is revoked on the Edge (as `cse-edge revoke` does).
    const secure = await SecureEdge.open({ store: dashboard().edgeStore });
    const me = (await secure.listPaired()).find((p) => p.label === label);
    expect(me, 'the browser paired with its code').toBeDefined();
    expect(await secure.revoke(me?.frontendId as string)).toBe(true);
    await page.locator('#connection[data-status="revoked"]').waitFor({ timeout: 60_000 });
    expect(await row.locator('input[name="speed"]').inputValue(), 'the form kept what was typed').toBe('1234');
    // No other Edit is offered any more, and the page says why.
    await until('Edit gone from the other rows', async () => (await page.locator('tr[data-worker]:not([data-worker="m03"]) button[data-action="edit"]').count()) === 0);
    expect(await page.locator('#access').textContent()).toContain('revoked');

    await row.locator('button[type="submit"]').click();
    const message = row.getByRole('alert');
    await until('the failed save to be said', async () => dialogs.length > 0 || (await message.isVisible()));
    expect(dialogs, 'no browser dialog').toEqual([]);
    const text = (await message.textContent()) as string;
    expect(text).toContain('Could not save (running at 1234 rpm)');
    expect(text, 'and why').toContain('revoked');
    await page.screenshot({ path: join(artifacts, 'new-user-save-failed.png') });
    // It stays until dismissed.
    await message.getByRole('button', { name: 'Dismiss' }).click();
    await until('the message dismissed', async () => (await row.getByRole('alert').count()) === 0);
    expect((await dashboard().edgeDesired('m03'))?._version, 'nothing reached the Edge').toBe(before._version);
    expect(dialogs).toEqual([]);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('without SharedWorker a second tab is read-only (no Edit, conflicts not resolvable there, says where to edit) and takes over when the first tab closes', { timeout: 300_000 }, async () => {
    // A browser without SharedWorker (Chromium's own switch for it): each tab has a dedicated
    // worker and the Web Locks leader syncs.
    const plain = await launchChromium({ extraArgs: ['--disable-blink-features=SharedWorker'] });
    try {
      const context: BrowserContext = await plain.newContext({ viewport: { width: 1240, height: 900 } });
      const dialogs: string[] = [];
      const errors: string[] = [];
      const open = async (url: string): Promise<Page> => {
        const p = await context.newPage();
        watchDialogs(p, dialogs);
        p.on('pageerror', (e) => errors.push(String(e)));
        await p.goto(url);
        return p;
      };
      const first = await open(`${base()}#pair=${encodeURIComponent(await operatorCode('new-user test (tabs)'))}`);
      expect(await first.evaluate(() => typeof SharedWorker), 'this browser has no SharedWorker').toBe('undefined');
      await live(first);
      const second = await open(base());
      await second.locator('#other-tab').waitFor({ state: 'visible', timeout: 60_000 });
      await until('every machine in the second tab', async () => (await second.locator('tr[data-worker]').count()) === WORKERS);
      expect(await second.locator('#connection').getAttribute('data-status')).toBe('other-tab');
      expect(await second.locator('#connection').textContent()).toContain('read-only');
      expect(await second.locator('#other-tab').textContent()).toMatch(/open in another tab.*read-only/s);
      expect(await second.locator('#access').textContent(), 'where to edit').toContain('edit there');
      expect(await second.locator('button[data-action="edit"]:enabled').count(), 'no Edit in the read-only tab').toBe(0);
      expect(await first.locator('button[data-action="edit"]:enabled').count(), 'Edit in the tab that syncs').toBe(WORKERS);
      expect(await second.locator('#pairing').isHidden()).toBe(true);

      // A conflict made in the first tab shows in the second, which cannot resolve it.
      const m05 = (await dashboard().edgeDesired('m05')) as Record<string, unknown>;
      const row = first.locator('tr[data-worker="m05"]');
      await row.locator('button[data-action="edit"]').click();
      await row.locator('input[name="speed"]').fill('1500');
      await new TriangularStore(dashboard().edgeStore, machineRegistry()).saveDesired(WORKER_TYPE, 'm05', { state: 'running', speed: 777 }, { expectedVersion: m05._version as number });
      await row.locator('button[type="submit"]').click();
      const conflict = second.locator('tr[data-conflict="m05"]');
      await conflict.waitFor({ timeout: 60_000 });
      for (const choice of ['mine', 'theirs']) expect(await conflict.locator(`button[data-action="${choice}"]`).isDisabled(), `"${choice}" in the read-only tab`).toBe(true);
      await second.screenshot({ path: join(artifacts, 'new-user-read-only-tab.png') });

      // "Close the other tab and this one takes over."
      await first.close();
      await second.locator('#other-tab').waitFor({ state: 'hidden', timeout: 60_000 });
      await live(second);
      await until('Edit in the tab that took over', async () => (await second.locator('button[data-action="edit"]:enabled').count()) === WORKERS - 1);
      await conflict.locator('button[data-action="theirs"]:enabled').click();
      await until('the conflict resolved there', async () => (await second.locator('tr[data-conflict]').count()) === 0);
      expect(await second.locator('tr[data-worker="m05"] [role="alert"]').count(), 'no failure shown').toBe(0);
      expect((await dashboard().edgeDesired('m05'))?.speed).toBe(777);
      expect(dialogs).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      await plain.close();
    }
  });
});
