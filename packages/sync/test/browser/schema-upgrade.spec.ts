// S12 in a real browser: a Frontend page in headless Chromium (Debian's) with its replica on
// IndexedDB, following a Node Edge on a SQLite file over a loopback WebSocket, across releases.
// 1. Release 1 (pump and valve at version 1) syncs to live; cut off from the Edge, it saves a
//    pending pump Desired write.
// 2. The page is loaded again as release 2 (pump at 2 through an `up` with no `down`): its
//    IndexedDB replica is upgraded in place before it connects (documents and the pending write
//    in version 2 shape, cursors kept); the Edge, still at release 1, sends next to nothing, says
//    UPDATE_REQUIRED for pump only, and valve stays live.
// 3. The Edge is upgraded while the page stays open (same SQLite file, `migrate('pump')`, same
//    address): the page reconnects by itself, pump syncs in version 2, the pending write is
//    applied once, the replica equals the Edge's documents.
// The pending write creates the Desired document of a pump that has none on the Edge yet: a write
// based on a version from before the eager `migrate` would come back as a conflict (the migration
// moves `_version`, a limit in docs/schema-versions.md).
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright';
import { WebSocketServer } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RECEIPT_COLLECTION, Replica, TriangularStore, openStore } from '@cse/core';
import type { Registry, Store } from '@cse/core';
import { SqliteAdapter } from '@cse/adapter-sqlite';
import { EdgeSync, webSocketTransport } from '@cse/sync';
import type { WebSocketLike } from '@cse/sync';
import { buildPage, launchChromium, serveDir } from '../../../../test-support/chromium.js';
import { until } from '../../../../test-support/until.js';
import type { DumpedDoc, SchemaPage, SchemaPageState } from './schema-page/main.js';
import { registryAt } from './schema-page/schema.js';

const PUMPS = 20;
const VALVES = 20;
/** Pumps without a Desired document on the Edge (the pending write creates p18's). */
const WITH_DESIRED = 18;
const COLLECTIONS = ['pump_desired', 'pump_identity', 'pump_observed', 'valve_desired', 'valve_identity', 'valve_observed'];
const here = fileURLToPath(new URL('.', import.meta.url));
let dir = '';
let site: Awaited<ReturnType<typeof serveDir>> | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cse-sync-schema-'));
  await buildPage(join(here, 'schema-page'), join(dir, 'page'));
  site = await serveDir(join(dir, 'page'));
}, 120_000);

afterAll(async () => {
  await site?.close();
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

/** An Edge of one release on the SQLite file: its store, triangular store and sync. */
interface Edge {
  store: Store;
  triangular: TriangularStore;
  sync: EdgeSync;
}

function openEdge(registry: Registry): Edge {
  const store = openStore(new SqliteAdapter({ path: join(dir, 'edge.sqlite') }));
  const triangular = new TriangularStore(store, registry);
  return { store, triangular, sync: new EdgeSync({ store, registry, triangular }) };
}

/** The Edge's stored documents (tombstones included), keyed `collection:id`, as the page dumps them. */
async function edgeDocs(store: Store): Promise<Map<string, { s: number; v: number; deleted: boolean; schema: unknown; body: Record<string, unknown> }>> {
  const out = new Map<string, { s: number; v: number; deleted: boolean; schema: unknown; body: Record<string, unknown> }>();
  for (let cursor = 0; ; ) {
    const page = await store.changesSince(cursor, { collections: COLLECTIONS, limit: 1000 });
    for (const c of page.changes) {
      out.set(`${c.collection}:${c.id}`, { s: c.syncId, v: c.version, deleted: c.deleted, schema: c.doc._schema, body: Object.fromEntries(Object.entries(c.doc).filter(([k]) => !k.startsWith('_'))) });
    }
    cursor = page.cursor;
    if (!page.hasMore) return out;
  }
}

type PageApi = { cseSchema: SchemaPage };
const stateOf = (page: Page): Promise<SchemaPageState | undefined> => page.evaluate(() => (window as unknown as Partial<PageApi>).cseSchema?.state());
const dumpOf = async (page: Page): Promise<Map<string, DumpedDoc>> => new Map((await page.evaluate(() => (window as unknown as PageApi).cseSchema.dump())).map((d) => [d.key, d]));

/** What differs between the page's replica and the Edge's documents (empty: equal). */
async function differences(page: Page, store: Store): Promise<string[]> {
  const edge = await edgeDocs(store);
  const replica = await dumpOf(page);
  const problems: string[] = [];
  for (const [k, e] of edge) {
    const d = replica.get(k);
    if (e.deleted) {
      if (d !== undefined) problems.push(`${k} deleted on the Edge`);
    } else if (d === undefined) problems.push(`${k} missing`);
    else if (d.s !== e.s || d.v !== e.v || d.status !== 'synced' || d.schema !== e.schema || JSON.stringify(d.body) !== JSON.stringify(e.body)) {
      problems.push(`${k} differs: ${JSON.stringify(d)} vs ${JSON.stringify(e)}`);
    }
  }
  for (const k of replica.keys()) if (!edge.has(k)) problems.push(`${k} only in the replica`);
  return problems;
}

describe('a Frontend in headless Chromium across schema releases (S12), replica on IndexedDB', () => {
  it('a new release upgrades the IndexedDB replica in place, gets UPDATE_REQUIRED for pump only from an old Edge, and syncs once the Edge is upgraded', { timeout: 120_000 }, async () => {
    let edge = openEdge(registryAt(1));
    await edge.store.transaction(async (tx) => {
      for (let i = 0; i < PUMPS; i++) {
        await tx.insert('pump_identity', { id: `p${i}`, model: `P-${i % 3}` });
        await tx.insert('pump_observed', { id: `p${i}`, temp_f: 50 + i });
        if (i < WITH_DESIRED) await tx.insert('pump_desired', { id: `p${i}`, speed_rpm: 100 * i });
      }
      for (let i = 0; i < VALVES; i++) {
        await tx.insert('valve_identity', { id: `v${i}`, size: 'DN50' });
        await tx.insert('valve_observed', { id: `v${i}`, open: i % 2 === 0 });
        await tx.insert('valve_desired', { id: `v${i}`, open: i % 2 === 0 });
      }
    });

    // The Edge is served while `serving` is set; otherwise every connection is dropped at once
    // (the page is offline and keeps retrying).
    let serving: EdgeSync | undefined = edge.sync;
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((r) => wss.once('listening', r));
    wss.on('connection', (socket) => {
      if (serving === undefined) socket.terminate();
      else serving.accept(webSocketTransport(socket as unknown as WebSocketLike));
    });
    const cut = (): void => {
      serving = undefined;
      for (const socket of wss.clients) socket.terminate();
    };
    const edgeUrl = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
    const url = (release: number): string => `${site?.url}?edge=${encodeURIComponent(edgeUrl)}&v=${release}`;

    let browser: Browser | undefined;
    try {
      browser = await launchChromium();
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));

      // 1. Release 1 syncs everything, then is cut off and saves a pump write.
      await page.goto(url(1));
      await until('release 1 live and equal to the Edge', async () => (await stateOf(page))?.status === 'live' && (await differences(page, edge.store)).length === 0);
      cut();
      await until('the page offline', async () => (await stateOf(page))?.status !== 'live');
      const writeId = await page.evaluate(() => (window as unknown as PageApi).cseSchema.save('pump', 'p18', { speed_rpm: 1800 }));
      const before = (await stateOf(page)) as SchemaPageState;
      expect(before.pending).toBe(1);
      expect(before.schemaUpgrades).toEqual([]);
      const cursorsBefore = before.cursors;
      expect(Object.keys(cursorsBefore).sort()).toEqual(COLLECTIONS);

      // 2. Release 2 opens the same replica, still offline: upgraded in place before it connects.
      await page.goto(url(2));
      const opened = await until('release 2 started', async () => {
        const s = await stateOf(page);
        return s?.error === undefined && s?.started === true && s;
      });
      expect(opened.release).toBe(2);
      // Every pump document the replica held (identity, observed, Desired but p18's pending one), converted.
      expect(opened.schemaUpgrades).toEqual([{ workerType: 'pump', from: 1, to: 2, mode: 'converted', documents: 2 * PUMPS + WITH_DESIRED, writes: 1, refused: 0 }]);
      expect(opened.startCursors, 'the cursors are kept (no resync)').toEqual(cursorsBefore);
      expect(opened.pending).toBe(1);
      const upgraded = await dumpOf(page);
      for (const [k, d] of upgraded) {
        if (k.startsWith('valve_')) {
          expect(d.schema, k).toBeUndefined();
          continue;
        }
        expect(d.schema, k).toBe(2);
        if (k.startsWith('pump_desired:')) {
          expect(d.body, k).not.toHaveProperty('speed_rpm');
          expect(d.body.rpm, k).toBe(k === 'pump_desired:p18' ? 1800 : 100 * Number(k.slice('pump_desired:p'.length)));
        }
        if (k.startsWith('pump_observed:')) {
          expect(d.body, k).not.toHaveProperty('temp_f');
          expect(typeof d.body.temp_c, k).toBe('number');
        }
      }
      expect(upgraded.get('pump_desired:p18')).toMatchObject({ status: 'pending', schema: 2, body: { id: 'p18', rpm: 1800 } });
      expect(await page.evaluate(() => (window as unknown as PageApi).cseSchema.outbox())).toEqual([{ c: 'pump_desired', id: 'p18', w: writeId, base: 0, body: { id: 'p18', rpm: 1800, _schema: 2 } }]);

      // The release 1 Edge again: it cannot serve pump at 2 (no `down`), valve goes on.
      const sentBefore = edge.sync.stats.changesSent;
      serving = edge.sync;
      const blocked = await until('UPDATE_REQUIRED for pump, valve live', async () => {
        const s = await stateOf(page);
        return s?.status === 'live' && s.updateRequired.length > 0 && s;
      });
      expect(blocked.updateRequired).toEqual(['pump']);
      expect(blocked.pending, 'the pump write waits').toBe(1);
      expect(blocked.outcomes).toEqual([]);
      // Cursors kept: the Edge sends nothing for the (unchanged) valves, a resync would send all of them.
      expect(edge.sync.stats.changesSent - sentBefore, 'changes sent to the upgraded replica').toBeLessThan(VALVES);
      expect(edge.sync.stats.writesApplied + edge.sync.stats.writesRefused).toBe(0);
      await edge.triangular.saveObserved('valve', 'v3', { open: true, note: 'opened on site' });
      await until('the valve change in the page', async () => (await dumpOf(page)).get('valve_observed:v3')?.body.note === 'opened on site');
      const sentToUpgraded = edge.sync.stats.changesSent - sentBefore;
      expect(sentToUpgraded).toBeLessThan(VALVES);
      expect((await dumpOf(page)).get('pump_desired:p18')).toMatchObject({ status: 'pending', body: { rpm: 1800 } });
      expect(await edge.triangular.loadDesired('pump', 'p18')).toBeUndefined();

      // 3. The Edge is upgraded while the page stays open: same file, migrated, same address.
      serving = undefined;
      await edge.sync.close();
      await edge.store.close();
      edge = openEdge(registryAt(2));
      const migrated = await edge.triangular.migrate('pump');
      expect(migrated.migrated).toBe(2 * PUMPS + WITH_DESIRED);
      serving = edge.sync;
      await until('the page synced with the upgraded Edge', async () => {
        const s = await stateOf(page);
        return s?.status === 'live' && s.updateRequired.length === 0 && s.pending === 0 && (await differences(page, edge.store)).length === 0;
      });
      const after = (await stateOf(page)) as SchemaPageState;
      expect(after.outcomes).toEqual([expect.objectContaining({ kind: 'applied', writeId, duplicate: false, version: 1, collection: 'pump_desired', id: 'p18' })]);
      expect(await edge.triangular.loadDesired('pump', 'p18')).toMatchObject({ id: 'p18', rpm: 1800, _schema: 2, _version: 1 });
      const receipts = (await new Replica(edge.store).scan(RECEIPT_COLLECTION)).filter((r) => !r.deleted && r.doc.collection === 'pump_desired' && r.doc.doc === 'p18');
      expect(receipts, 'one receipt: applied once').toHaveLength(1);
      expect(edge.sync.stats).toMatchObject({ writesApplied: 1, writesDuplicate: 0, writesConflict: 0, writesRefused: 0 });
      const docs = await edgeDocs(edge.store);
      for (const [k, e] of docs) expect(e.schema, k).toBe(k.startsWith('pump_') ? 2 : undefined);
      expect(docs.get('pump_desired:p5')?.body).toEqual({ id: 'p5', rpm: 500 });
      expect((await differences(page, edge.store)).length).toBe(0);
      expect(errors).toEqual([]);
      expect(after.error).toBeUndefined();
      console.log(`replica upgraded in place (${opened.schemaUpgrades[0]?.documents} documents, 1 pending write); the release 1 Edge then sent it ${sentToUpgraded} change(s) (a resync: ${3 * VALVES} valve documents); ${edge.sync.stats.changesSent} changes sent by the upgraded Edge`);
    } finally {
      await browser?.close();
      serving = undefined;
      await edge.sync.close();
      await new Promise((r) => wss.close(r));
      await edge.store.close();
    }
  });
});
