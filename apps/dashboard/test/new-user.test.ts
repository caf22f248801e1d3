// What a new user hit, checked end to end in Debian's headless Chromium against the launcher's real
// processes: a Save that fails (this browser's pairing revoked while its Edit form was open) is
// said on the machine's row, never in a browser dialog.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TriangularStore, openStore } from '@cse/core';
import type { Store } from '@cse/core';
import { SqliteAdapter } from '@cse/adapter-sqlite';
import { SecureEdge, grantPreset } from '@cse/sync';
import { WORKER_TYPE, machineRegistry } from '../shared/machines.js';
import { buildPage, launchChromium } from '../../../test-support/chromium.js';
import { ctrlC, freePort, killAll, start, until } from './launcher.js';
import type { Started } from './launcher.js';

const app = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
const artifacts = join(app, 'test-artifacts');
const WORKERS = 6;
let dir = '';
let run: Started | undefined;
let browser: Browser | undefined;
let edgeStore: Store | undefined;

/** The page's address without the one-time code. */
const base = (): string => (run as Started).url.replace(/#.*$/, '');

/** A one-time operator code made on the Edge's store, as `cse-edge pair` in another process makes one. */
async function operatorCode(label: string): Promise<string> {
  return (await (await SecureEdge.open({ store: edgeStore as Store })).createPairingCode({ grant: grantPreset('operator'), label })).code;
}

const edgeDesired = (id: string): Promise<Record<string, unknown> | undefined> => new TriangularStore(edgeStore as Store, machineRegistry()).loadDesired(WORKER_TYPE, id);

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

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cse-dashboard-new-user-'));
  mkdirSync(artifacts, { recursive: true });
  const web = join(dir, 'web');
  await buildPage(join(app, 'web'), web, { base: './' });
  const data = join(dir, 'data');
  // No failures and no HMI edits: the only changes of a desired state are the tests'.
  run = await start(['--data', data, '--port', String(await freePort()), '--relay-port', String(await freePort()), '--workers', String(WORKERS), '--tick-ms', '2000', '--fail-rate', '0', '--hmi-rate', '0', '--web', web]);
  edgeStore = openStore(new SqliteAdapter({ path: join(data, 'edge.db') }));
  browser = await launchChromium();
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await edgeStore?.close();
  if (run !== undefined) {
    ctrlC(run.proc);
    await run.exited;
  }
  killAll();
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

describe('a new user in the dashboard', () => {
  it('a Save that fails (the pairing revoked while the form was open) says so on the machine\'s row, in no dialog, until dismissed', { timeout: 300_000 }, async () => {
    const label = 'new-user test (revoked)';
    const code = await operatorCode(label);
    const context = await (browser as Browser).newContext({ viewport: { width: 1240, height: 900 } });
    const page = await context.newPage();
    const dialogs: string[] = [];
    watchDialogs(page, dialogs);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${base()}#pair=${encodeURIComponent(code)}`);
    await live(page);
    const row = page.locator('tr[data-worker="m03"]');
    await until('m03 may be edited (operator)', async () => row.locator('button[data-action="edit"]').isEnabled());
    const before = (await edgeDesired('m03')) as Record<string, unknown>;
    await row.locator('button[data-action="edit"]').click();
    await row.locator('select[name="state"]').selectOption('running');
    await row.locator('input[name="speed"]').fill('1234');

    // While the form is open, this browser is revoked on the Edge (as `cse-edge revoke` does).
    const secure = await SecureEdge.open({ store: edgeStore as Store });
    const me = (await secure.listPaired()).find((p) => p.label === label);
    expect(me, 'the browser paired with its code').toBeDefined();
    expect(await secure.revoke(me?.frontendId as string)).toBe(true);
    await page.locator('#connection[data-status="revoked"]').waitFor({ timeout: 60_000 });
    expect(await row.locator('input[name="speed"]').inputValue(), 'the form kept what was typed').toBe('1234');

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
    expect((await edgeDesired('m03'))?._version, 'nothing reached the Edge').toBe(before._version);
    expect(dialogs).toEqual([]);
    expect(errors).toEqual([]);
    await context.close();
  });
});
