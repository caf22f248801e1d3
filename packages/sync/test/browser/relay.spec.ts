// Real browser through a real relay: the Frontend page in headless Chromium (Debian's), replica
// on IndexedDB, pairs with a one-time code and follows a Node Edge on SQLite through a
// `cse-relay` process, over the encrypted channel. It converges, sends a Desired write, follows
// live changes, keeps its pairing across a reload, and recovers when the relay process is
// killed (SIGKILL) and started again on the same port.
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright';
import type { Browser, Page } from 'playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry, TriangularStore, openStore } from '@cse/core';
import type { Store } from '@cse/core';
import { SqliteAdapter } from '@cse/adapter-sqlite';
import { EdgeSync, SecureEdge, createRelayToken } from '@cse/sync';
import { nodeRelayEdgeListener } from '@cse/sync/node';
import { chromiumPath } from '../../../adapter-indexeddb/test/chromium-path.js';
import { servePage } from './serve-page.js';
import type { ServedPage } from './serve-page.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const CLI = fileURLToPath(new URL('../../../relay/src/cli.ts', import.meta.url));
let dir = '';
let served: ServedPage | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cse-relay-browser-'));
  served = await servePage(join(here, 'relay-page'), join(dir, 'page'));
}, 120_000);

afterAll(async () => {
  await served?.close();
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

/** Starts `cse-relay` on `port` (0: a free one); resolves with the process and its URL. */
async function cseRelay(port: number): Promise<{ proc: ChildProcessWithoutNullStreams; url: string }> {
  for (let attempt = 0; ; attempt++) {
    const proc = spawn(process.execPath, ['--conditions=@cse/source', '--import', 'tsx', CLI, '--port', String(port), '--heartbeat-ms', '1000'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let err = '';
    proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        proc.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /listening on (\S+)/.exec(out);
          if (m) resolve(m[1] as string);
        });
        proc.on('exit', (code) => reject(new Error(`cse-relay exited (${String(code)}): ${err}`)));
      });
      return { proc, url };
    } catch (e) {
      if (attempt < 20 && /EADDRINUSE/.test(err)) {
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      throw e;
    }
  }
}

async function until<T>(what: string, f: () => Promise<T | undefined | false>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

type PageState = { status: string; error?: string };
const read = (page: Page): Promise<PageState | undefined> =>
  page.evaluate(() => {
    const s = (window as unknown as { cseRelay?: PageState }).cseRelay;
    return s && { status: s.status, ...(s.error === undefined ? {} : { error: s.error }) };
  });

async function problems(store: Store, page: Page): Promise<string[]> {
  const e = new Map<string, { s: number; v: number; deleted: boolean; body: string }>();
  for (let cursor = 0; ; ) {
    const p = await store.changesSince(cursor, { collections: ['pump_desired', 'pump_identity', 'pump_observed'], limit: 1000 });
    for (const c of p.changes) e.set(`${c.collection}:${c.id}`, { s: c.syncId, v: c.version, deleted: c.deleted, body: JSON.stringify(Object.fromEntries(Object.entries(c.doc).filter(([k]) => !k.startsWith('_')))) });
    cursor = p.cursor;
    if (!p.hasMore) break;
  }
  const r = new Map((await page.evaluate(() => (window as unknown as { cseRelay: { dump(): Promise<{ id: string }[]> } }).cseRelay.dump())).map((d) => [d.id, d as { id: string; s: unknown; v: unknown; status: unknown; body: unknown }]));
  const out: string[] = [];
  for (const [k, c] of e) {
    const d = r.get(k);
    if (c.deleted) {
      if (d !== undefined) out.push(`${k} deleted on the Edge`);
    } else if (d === undefined || d.s !== c.s || d.v !== c.v || d.status !== 'synced' || JSON.stringify(d.body) !== c.body) out.push(`${k} differs`);
  }
  for (const k of r.keys()) if (!e.has(k)) out.push(`${k} only in the replica`);
  return out;
}

describe('a Frontend in headless Chromium through a cse-relay process', () => {
  it('pairs, converges, writes, follows live changes, survives a reload and a relay SIGKILL', { timeout: 180_000 }, async () => {
    let relay = await cseRelay(0);
    const port = Number(new URL(relay.url).port);
    const store = openStore(new SqliteAdapter({ path: join(dir, 'edge.sqlite') }));
    const registry = new Registry();
    registry.registerWorkerType('pump');
    const triangular = new TriangularStore(store, registry);
    for (let i = 0; i < 300; i++) await triangular.saveObserved('pump', `p${i}`, { rpm: i, label: `pump ${i}` });
    const edge = new EdgeSync({ store, registry, triangular, heartbeatMs: 1000 });
    const secure: SecureEdge = await SecureEdge.open({ store, issueRelayToken: (frontendId) => createRelayToken(secure.identity, { edgeId: secure.edgeId, frontendId }) });
    const listener = await nodeRelayEdgeListener({ url: relay.url, signer: secure.identity, backoff: { min: 20, max: 200 }, onSession: (t) => secure.serve(edge, t) });
    secure.onRevoke((frontendId) => void listener.revoke(frontendId));
    const offer = await secure.createPairingCode({ ttlMs: 120_000 });
    await listener.offerPairing(offer.relayTicket, 120_000);

    let browser: Browser | undefined;
    try {
      browser = await chromium.launch({
        executablePath: chromiumPath(),
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
      });
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(`${served?.url ?? ''}?relay=${encodeURIComponent(relay.url)}&code=${encodeURIComponent(offer.code)}`);
      const live = async (what: string): Promise<void> => {
        await until(what, async () => {
          const s = await read(page);
          if (s?.error !== undefined) throw new Error(`the page failed: ${s.error}`);
          return s?.status === 'live';
        });
      };
      const converged = (what: string): Promise<boolean> => until(what, async () => (await problems(store, page)).length === 0);
      await live('the page paired and live');
      await converged('the initial sync');
      expect((await secure.listPaired()).length).toBe(1);

      // A Desired write from the browser, applied on the Edge; a live change back.
      expect(await page.evaluate(() => (window as unknown as { cseRelay: { write(id: string, b: object): Promise<string> } }).cseRelay.write('p1', { rpm: 1500 }))).toBe('pending');
      await until('the write on the Edge', async () => (await triangular.loadDesired('pump', 'p1'))?.rpm === 1500);
      await triangular.saveObserved('pump', 'p2', { rpm: -2, label: 'changed' });
      await converged('the write synced and the live change');

      // A reload: the pairing is kept in IndexedDB (the one-time code is spent).
      await page.reload();
      await live('live after the reload');
      await triangular.saveObserved('pump', 'p3', { rpm: -3, label: 'after reload' });
      await converged('after the reload');

      // The relay process killed and started again on the same port: both ends reconnect.
      relay.proc.kill('SIGKILL');
      await new Promise((r) => relay.proc.once('exit', r));
      await triangular.saveObserved('pump', 'p4', { rpm: -4, label: 'while the relay is down' });
      relay = await cseRelay(port);
      await until('the Edge registered again', async () => listener.status === 'registered');
      await live('live after the relay restart');
      await converged('after the relay restart');
      expect(errors).toEqual([]);
      expect((await secure.listPaired()).length).toBe(1);
    } finally {
      await browser?.close();
      await listener.close();
      await edge.close();
      relay.proc.kill('SIGKILL');
      await store.close();
    }
  });
});
