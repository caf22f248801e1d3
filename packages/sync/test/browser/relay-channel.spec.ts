// Real browser through a real relay: a Frontend page in headless Chromium (Debian's) with its
// replica on IndexedDB pairs with a pairing code and then syncs, behind the encrypted channel,
// through a `cse-relay` process to a Node Edge on SQLite, all on 127.0.0.1. Then: a Desired
// write applied once; a reload (no second pairing: the keys are in IndexedDB); the relay process
// killed (SIGKILL) and started again on its port (both ends come back by themselves, nothing
// lost); and a revocation that cuts the page off.
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry, TriangularStore, openStore } from '@cse/core';
import type { Store } from '@cse/core';
import { SqliteAdapter } from '@cse/adapter-sqlite';
import { EdgeSync, SecureEdge } from '@cse/sync';
import { nodeServeSecureRelay } from '@cse/sync/node';
import { buildPage, launchChromium, serveDir } from '../../../../test-support/chromium.js';
import { until } from '../../../../test-support/until.js';

const DOCS = 1000;
const MARKER = 'zq-browser-marker';
const here = fileURLToPath(new URL('.', import.meta.url));
const RELAY_CLI = fileURLToPath(new URL('../../../relay/src/cli.ts', import.meta.url));
let dir = '';
let site: Awaited<ReturnType<typeof serveDir>> | undefined;
let pageUrl = '';
const children: ChildProcessWithoutNullStreams[] = [];

/** Starts `cse-relay` (its source, through tsx) on `port` (0: a free one); resolves with its URL. */
function startRelayProcess(port: number): Promise<{ url: string; port: number; child: ChildProcessWithoutNullStreams }> {
  const child = spawn(process.execPath, ['--conditions=@cse/source', '--import', 'tsx', RELAY_CLI, '--host', '127.0.0.1', '--port', String(port)], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /cse-relay listening on (ws:\/\/127\.0\.0\.1:(\d+))/.exec(out);
      if (m) resolve({ url: m[1] as string, port: Number(m[2]), child });
    });
    child.on('exit', (code) => reject(new Error(`cse-relay exited (${String(code)}): ${err}`)));
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cse-relay-browser-'));
  await buildPage(join(here, 'relay-page'), join(dir, 'page'));
  site = await serveDir(join(dir, 'page'));
  pageUrl = site.url;
}, 120_000);

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await site?.close();
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

type PageState = { status: string; frontendId?: string; edgeId?: string; pairedOnThisLoad: boolean; channelErrors: string[]; error?: string };
const read = (page: Page): Promise<PageState | undefined> =>
  page.evaluate(() => {
    const s = (window as unknown as { cseSync?: PageState }).cseSync;
    return s && { status: s.status, frontendId: s.frontendId, edgeId: s.edgeId, pairedOnThisLoad: s.pairedOnThisLoad, channelErrors: [...s.channelErrors], error: s.error };
  });

async function problems(store: Store, page: Page): Promise<string[]> {
  const e = new Map<string, { s: number; v: number; deleted: boolean; body: Record<string, unknown> }>();
  for (let cursor = 0; ; ) {
    const p = await store.changesSince(cursor, { collections: ['pump_desired', 'pump_identity', 'pump_observed'], limit: 1000 });
    for (const c of p.changes) e.set(`${c.collection}:${c.id}`, { s: c.syncId, v: c.version, deleted: c.deleted, body: Object.fromEntries(Object.entries(c.doc).filter(([k]) => !k.startsWith('_'))) });
    cursor = p.cursor;
    if (!p.hasMore) break;
  }
  const r = new Map((await page.evaluate(() => (window as unknown as { cseSync: { dump(): Promise<{ id: string }[]> } }).cseSync.dump())).map((d) => [d.id, d as { id: string; s: unknown; v: unknown; status: unknown; body: unknown }]));
  const out: string[] = [];
  for (const [k, c] of e) {
    const d = r.get(k);
    if (c.deleted) {
      if (d !== undefined) out.push(`${k} deleted on the Edge`);
    } else if (d === undefined || d.s !== c.s || d.v !== c.v || d.status !== 'synced' || JSON.stringify(d.body) !== JSON.stringify(c.body)) out.push(`${k} differs`);
  }
  for (const k of r.keys()) if (!e.has(k)) out.push(`${k} only in the replica`);
  return out;
}

describe('a Frontend in headless Chromium through a cse-relay process, behind the encrypted channel', () => {
  it('pairs, syncs, writes once, survives a reload and a relay SIGKILL, and is cut off when revoked', { timeout: 600_000 }, async () => {
    const store = openStore(new SqliteAdapter({ path: join(dir, 'edge.sqlite') }));
    const registry = new Registry();
    registry.registerWorkerType('pump');
    const triangular = new TriangularStore(store, registry);
    const applied = new Map<string, number>();
    const saveDesired = triangular.saveDesired.bind(triangular);
    triangular.saveDesired = async (...args) => {
      const r = await saveDesired(...args);
      const nonce = (args[2] as { nonce?: string }).nonce;
      if (r.changed && nonce !== undefined) applied.set(nonce, (applied.get(nonce) ?? 0) + 1);
      return r;
    };
    await store.transaction(async (tx) => {
      for (let k = 0; k < DOCS; k++) await tx.insert('pump_observed', { id: `p${k}`, rpm: k, note: `${MARKER} ${k}` });
    });
    const edge = new EdgeSync({ store, registry, triangular, pageSize: 100 });
    const secure = await SecureEdge.open({ store });
    let relay = await startRelayProcess(0);
    const served = await nodeServeSecureRelay({ url: relay.url, secure, edge, backoff: { min: 50, max: 500 } });
    const offer = await served.createPairingCode({ ttlMs: 120_000 });

    let browser: Browser | undefined;
    try {
      browser = await launchChromium();
      const page = await browser.newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (e) => pageErrors.push(String(e)));
      await page.goto(`${pageUrl}?relay=${encodeURIComponent(relay.url)}&code=${encodeURIComponent(offer.code)}`);

      const first = await until('the page to pair', async () => {
        const s = await read(page);
        if (s?.error !== undefined) throw new Error(`the page failed: ${s.error}`);
        return s?.edgeId !== undefined && s;
      });
      expect(first.pairedOnThisLoad).toBe(true);
      expect(first.edgeId).toBe(secure.edgeId);
      expect((await secure.listPaired()).map((p) => p.frontendId)).toEqual([first.frontendId]);
      await until('the initial sync through the relay', async () => (await problems(store, page)).length === 0);

      // A Desired write from the page, applied once on the Edge.
      await page.evaluate(() => (window as unknown as { cseSync: { write(id: string, b: object): Promise<void> } }).cseSync.write('p1', { rpm: 1234, nonce: 'browser-1' }));
      await until('the Desired write on the Edge', async () => (await triangular.loadDesired('pump', 'p1'))?.nonce === 'browser-1');

      // Reload: the pairing is in IndexedDB; the used code is not needed (nor accepted) again.
      await page.reload();
      const again = await until('the reloaded page to start', async () => {
        const s = await read(page);
        if (s?.error !== undefined) throw new Error(`the reloaded page failed: ${s.error}`);
        return s?.edgeId !== undefined && s;
      });
      expect(again.pairedOnThisLoad).toBe(false);
      expect(again.frontendId).toBe(first.frontendId);
      await until('the reloaded page live', async () => (await read(page))?.status === 'live');

      // The relay process dies; a new one on the same port: both ends come back on their own.
      relay.child.kill('SIGKILL');
      await triangular.saveObserved('pump', 'during-outage', { note: MARKER });
      relay = await startRelayProcess(relay.port);
      await until('convergence after the relay restart', async () => (await problems(store, page)).length === 0, { timeoutMs: 300_000 });
      expect([...applied.values()]).toEqual([1]);

      // Revocation: the page is cut off at once and refused afterwards.
      await secure.revoke(first.frontendId!);
      await until('the page to drop', async () => (await read(page))?.status !== 'live');
      await triangular.saveObserved('pump', 'after-revoke', { note: MARKER });
      await new Promise((r) => setTimeout(r, 500));
      expect((await page.evaluate(() => (window as unknown as { cseSync: { dump(): Promise<{ id: string }[]> } }).cseSync.dump())).some((d) => d.id === 'pump_observed:after-revoke')).toBe(false);
      expect(pageErrors).toEqual([]);
      console.log(`paired ${first.frontendId}; ${edge.stats.sessions} sessions, ${secure.stats.sessions} secure handshakes, ${secure.stats.refused} refused`);
    } finally {
      await browser?.close();
      await served.close();
      await edge.close();
      relay.child.kill('SIGKILL');
      await store.close();
    }
  });
});
