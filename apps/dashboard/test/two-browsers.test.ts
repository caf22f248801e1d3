// Two people on one Edge, end to end in Debian's headless Chromium against the launcher's real
// processes (one start for both cases): two paired browsers edit the same machine from the same
// base (one edit is applied, the other is a visible conflict in its browser, resolved there), and
// a pairing code that has expired, opened in a fresh browser, says so and how to get a new one.
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright';
import { describe, expect, it } from 'vitest';
import { SecureEdge, grantPreset } from '@cse/sync';
import { until, useDashboard } from './launcher.js';

const app = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
const artifacts = join(app, 'test-artifacts');
const WORKERS = 8;
const dashboard = useDashboard('cse-dashboard-two-', WORKERS);
const errors: string[] = [];

async function newPage(url: string): Promise<Page> {
  const page = await (await dashboard().browser.newContext({ viewport: { width: 1240, height: 900 } })).newPage();
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(url);
  return page;
}

const docStatus = (page: Page, worker: string, doc: string): Promise<string | null> =>
  page.locator(`tr[data-worker="${worker}"] [data-doc="${doc}"]`).getAttribute('data-status', { timeout: 5000 });


describe('two people on one Edge', () => {
  it('two browsers edit the same machine from the same base: one edit is applied, the other is a visible conflict in its browser, resolved there', { timeout: 300_000 }, async () => {
    const r = dashboard().run;
    try {
      // A: the browser that paired with the code npm start printed (an admin). It makes an
      // operator code; B, another browser (its own context: its own IndexedDB), pairs with it.
      const a = await newPage(r.url);
      await a.locator('#connection[data-status="live"]').waitFor({ timeout: 120_000 });
      await a.locator('#share').waitFor({ state: 'visible', timeout: 30_000 });
      await a.locator('#share-operator').click();
      const link = await a.locator('#share-result a.share-link').getAttribute('href', { timeout: 30_000 });
      expect(link).toContain('#pair=cse1.');
      const b = await newPage(link as string);
      await b.locator('#connection[data-status="live"]').waitFor({ timeout: 120_000 });
      await until('B may edit (operator)', async () => (await b.locator('tr[data-worker="m04"] button[data-action="edit"]').isEnabled()) && (await b.locator('#access').textContent())?.includes('operator'));
      const paired = await (await SecureEdge.open({ store: dashboard().edgeStore })).listPaired();
      expect(paired.map((p) => p.grant?.preset).sort()).toEqual(['admin', 'operator']);

      // Both open m04's Edit form on the same version of its desired state.
      const base = (await dashboard().edgeDesired('m04')) as Record<string, unknown>;
      for (const p of [a, b]) {
        await until('m04 at the Edge\'s version', async () => Number(await p.locator('tr[data-worker="m04"]').getAttribute('data-desired-version')) === base._version);
        await p.locator('tr[data-worker="m04"] button[data-action="edit"]').click();
        expect(Number(await p.locator('tr[data-worker="m04"] form.edit-form').getAttribute('data-base')), 'both forms on the same base').toBe(base._version);
      }
      await a.locator('tr[data-worker="m04"] select[name="state"]').selectOption('running');
      await a.locator('tr[data-worker="m04"] input[name="speed"]').fill('2100');
      await b.locator('tr[data-worker="m04"] select[name="state"]').selectOption('running');
      await b.locator('tr[data-worker="m04"] input[name="speed"]').fill('1300');

      // A saves first: applied on the Edge.
      await a.locator('tr[data-worker="m04"] button[type="submit"]').click();
      await until('A\'s edit applied on the Edge', async () => (await dashboard().edgeDesired('m04'))?.speed === 2100);
      await a.locator('tr[data-worker="m04"] [data-outcome="applied"]').waitFor({ timeout: 30_000 });
      // B saves on the base its form showed: not applied; a conflict in B, both values shown.
      await b.locator('tr[data-worker="m04"] button[type="submit"]').click();
      await until('the conflict on m04 in B', async () => (await docStatus(b, 'm04', 'desired')) === 'conflict');
      await b.locator('tr[data-worker="m04"] [data-outcome="conflict"]').waitFor({ timeout: 30_000 });
      expect(await b.locator('tr[data-worker="m04"]').getAttribute('class')).toContain('conflicted');
      const conflict = b.locator('tr[data-conflict="m04"]');
      expect(await conflict.locator('.choice').first().textContent(), 'B\'s edit').toContain('1300 rpm');
      expect(await conflict.locator('.choice').nth(1).textContent(), 'the Edge\'s value (A\'s edit)').toContain('2100 rpm');
      await expect.poll(() => b.locator('#summary').textContent(), { timeout: 30_000 }).toContain('1 conflict to resolve');
      expect((await dashboard().edgeDesired('m04'))?.speed, 'a stale edit never overwrites the Edge').toBe(2100);
      expect((await dashboard().edgeDesired('m04'))?._version).toBe((base._version as number) + 1);
      // A sees no conflict: its edit is the Edge's value.
      expect(await a.locator('tr[data-conflict]').count()).toBe(0);
      expect(await docStatus(a, 'm04', 'desired')).toBe('synced');
      await b.screenshot({ path: join(artifacts, 'two-browsers-conflict.png') });

      // B keeps its edit: now based on the Edge's current version, it is applied, and A sees it.
      await conflict.locator('button[data-action="mine"]').click();
      await until('B\'s value applied on the Edge', async () => (await dashboard().edgeDesired('m04'))?.speed === 1300);
      await until('m04 synced in B', async () => (await docStatus(b, 'm04', 'desired')) === 'synced');
      expect(await b.locator('tr[data-conflict]').count()).toBe(0);
      await until('B\'s value in A', async () => (await a.locator('tr[data-worker="m04"] td.desired').textContent())?.includes('1300 rpm'));
      await b.screenshot({ path: join(artifacts, 'two-browsers-resolved.png') });
      expect(errors).toEqual([]);
      await a.context().close();
      await b.context().close();
    } catch (e) {
      console.error(`the launcher's output:\n${r.out()}`);
      throw e;
    }
  });

  it('an expired pairing code, opened in a fresh browser: "This code has expired; ask for a new one", how to get one, and no machines', { timeout: 300_000 }, async () => {
    const r = dashboard().run;
    try {
      // A code made on the Edge's store (as `cse-edge pair` in another process makes one), valid
      // for a moment only; opened after it expired.
      const offer = await (await SecureEdge.open({ store: dashboard().edgeStore })).createPairingCode({ ttlMs: 1000, grant: grantPreset('viewer') });
      await until('the code expired', async () => Date.now() > offer.expiresAt + 500);
      const base = r.url.replace(/#.*$/, '');
      const page = await newPage(`${base}#pair=${encodeURIComponent(offer.code)}`);
      const error = page.locator('#pair-error');
      await until('the pairing refused', async () => (await error.isVisible()) && (await error.textContent()) !== '');
      const text = (await error.textContent()) as string;
      expect(text).toContain('This code has expired; ask for a new one');
      expect(text, 'and how').toContain('npm start');
      expect(text).toContain('Pair another browser');
      expect(await page.locator('#pairing').isVisible(), 'it still asks for a code').toBe(true);
      expect(await page.locator('#connection').getAttribute('data-status')).toBe('unpaired');
      expect(await page.locator('tr[data-worker]').count(), 'no machines').toBe(0);
      const paired = await (await SecureEdge.open({ store: dashboard().edgeStore })).listPaired();
      expect(paired.some((p) => p.grant?.preset === 'viewer'), 'the Edge paired nobody with it').toBe(false);
      await page.screenshot({ path: join(artifacts, 'pairing-expired.png') });
      expect(errors).toEqual([]);
      await page.context().close();
    } catch (e) {
      console.error(`the launcher's output:\n${r.out()}`);
      throw e;
    }
  });
});
