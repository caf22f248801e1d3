// Real browser: a Frontend page in headless Chromium (Debian's) with its replica on IndexedDB,
// following a Node Edge on SQLite over a loopback WebSocket. The page is reloaded in the middle
// of the initial sync; it must resume from its cursor (the Edge sends well under 2x the
// documents in all) and converge, then follow live changes and tombstones.
// Driven by Playwright from Node (a reload inside Vitest browser mode would restart the runner);
// the page is bundled with Vite from test/browser/page.
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright';
import { WebSocketServer } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry, TriangularStore, openStore } from '@cse/core';
import type { Store } from '@cse/core';
import { SqliteAdapter } from '@cse/adapter-sqlite';
import { EdgeSync, webSocketTransport } from '@cse/sync';
import type { Transport, WebSocketLike } from '@cse/sync';
import { buildPage, launchChromium, serveDir } from '../../../../test-support/chromium.js';
import { until } from '../../../../test-support/until.js';

const DOCS = 5000;
const here = fileURLToPath(new URL('.', import.meta.url));
let dir = '';
let site: Awaited<ReturnType<typeof serveDir>> | undefined;
let pageUrl = '';

/**
 * Passes the first `budget` frames the Edge sends, then holds back the rest for good: the first
 * session stalls part-way through its initial sync, so the reload always lands mid sync however
 * fast or slow the machine runs (a fixed per-frame delay raced the page on a busy machine).
 */
function gated(t: Transport, budget: number): Transport {
  let sent = 0;
  return {
    send: (frame) => {
      if (sent++ < budget) t.send(frame);
    },
    close: (reason) => t.close(reason),
    get buffered() {
      return t.buffered;
    },
    set onmessage(f) {
      t.onmessage = f;
    },
    get onmessage() {
      return t.onmessage;
    },
    set onclose(f) {
      t.onclose = f;
    },
    get onclose() {
      return t.onclose;
    },
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cse-sync-browser-'));
  await buildPage(join(here, 'page'), join(dir, 'page'));
  site = await serveDir(join(dir, 'page'));
  pageUrl = site.url;
}, 120_000);

afterAll(async () => {
  await site?.close();
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

async function edgeState(store: Store, collections: string[]): Promise<Map<string, { s: number; v: number; deleted: boolean; body: Record<string, unknown> }>> {
  const out = new Map<string, { s: number; v: number; deleted: boolean; body: Record<string, unknown> }>();
  for (let cursor = 0; ; ) {
    const page = await store.changesSince(cursor, { collections, limit: 1000 });
    for (const c of page.changes) out.set(`${c.collection}:${c.id}`, { s: c.syncId, v: c.version, deleted: c.deleted, body: Object.fromEntries(Object.entries(c.doc).filter(([k]) => !k.startsWith('_'))) });
    cursor = page.cursor;
    if (!page.hasMore) return out;
  }
}

type PageState = { status: string; applied: number; cursor: number; head: number; startCursors: Record<string, number>; error?: string };
const read = (page: Page): Promise<PageState | undefined> =>
  page.evaluate(() => {
    const s = (window as unknown as { cseSync?: PageState }).cseSync;
    return s && { status: s.status, applied: s.applied, cursor: s.cursor, head: s.head, startCursors: s.startCursors, error: s.error };
  });

describe('a Frontend in headless Chromium, replica on IndexedDB', () => {
  it('resumes the initial sync from its cursor after a reload, converges, then follows live changes', { timeout: 600_000 }, async () => {
    const store = openStore(new SqliteAdapter({ path: join(dir, 'edge.sqlite') }));
    const registry = new Registry();
    registry.registerWorkerType('pump');
    const triangular = new TriangularStore(store, registry);
    // 5 000 documents in 5 commits (the seeding is not what is tested).
    for (let i = 0; i < DOCS; i += 1000) {
      await store.transaction(async (tx) => {
        for (let k = i; k < i + 1000; k++) await tx.insert('pump_observed', { id: `p${k}`, rpm: k, label: `pump ${k}` });
      });
    }
    const edge = new EdgeSync({ store, registry, triangular, pageSize: 50, window: 2 });
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((r) => wss.once('listening', r));
    // The first session gets 30 frames (at most 29 pages of 50 documents), later ones run free.
    let connections = 0;
    wss.on('connection', (socket) => {
      const t = webSocketTransport(socket as unknown as WebSocketLike);
      edge.accept(connections++ === 0 ? gated(t, 30) : t);
    });
    const edgeUrl = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;

    let browser: Browser | undefined;
    try {
      browser = await launchChromium();
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(`${pageUrl}?edge=${encodeURIComponent(edgeUrl)}`);

      // Mid initial sync: some pages applied, most not.
      const before = await until('the initial sync under way', async () => {
        const s = await read(page);
        return s !== undefined && s.applied >= DOCS / 10 && s;
      });
      expect(before.applied, 'the reload must come before the initial sync ends').toBeLessThan(DOCS / 2);
      await page.reload();
      const after = await until('the reloaded page started', async () => {
        const s = await read(page);
        return s !== undefined && Object.keys(s.startCursors).length > 0 && s;
      });
      expect(Math.min(...Object.values(after.startCursors)), 'the reloaded replica starts from its cursor, not 0').toBeGreaterThan(0);

      const collections = ['pump_desired', 'pump_identity', 'pump_observed'];
      const converged = async (): Promise<string[]> => {
        const e = await edgeState(store, collections);
        const r = new Map((await page.evaluate(() => (window as unknown as { cseSync: { dump(): Promise<{ id: string }[]> } }).cseSync.dump())).map((d) => [d.id, d as { id: string; s: unknown; v: unknown; status: unknown; body: unknown }]));
        const problems: string[] = [];
        for (const [k, c] of e) {
          const d = r.get(k);
          if (c.deleted) {
            if (d !== undefined) problems.push(`${k} deleted on the Edge`);
          } else if (d === undefined || d.s !== c.s || d.v !== c.v || d.status !== 'synced' || JSON.stringify(d.body) !== JSON.stringify(c.body)) problems.push(`${k} differs`);
        }
        for (const k of r.keys()) if (!e.has(k)) problems.push(`${k} only in the replica`);
        return problems;
      };
      await until('convergence after the reload', async () => (await converged()).length === 0, { timeoutMs: 300_000 });
      expect(edge.stats.sessions).toBeGreaterThanOrEqual(2);
      expect(edge.stats.changesSent, `${edge.stats.changesSent} changes sent for ${DOCS} documents`).toBeLessThan(DOCS * 1.5);

      // Live: an update and a tombstone arrive in the (resumed) page.
      await triangular.saveObserved('pump', 'p7', { rpm: -7, label: 'changed' });
      await store.delete('pump_observed', 'p8');
      await until('live changes', async () => (await converged()).length === 0, { timeoutMs: 300_000 });
      expect(errors).toEqual([]);
      console.log(`reload at ${before.applied}/${DOCS} applied; resumed from cursor ${Math.min(...Object.values(after.startCursors))}; ${edge.stats.changesSent} changes sent in ${edge.stats.sessions} sessions`);
    } finally {
      await browser?.close();
      await edge.close();
      await new Promise((r) => wss.close(r));
      await store.close();
    }
  });
});
