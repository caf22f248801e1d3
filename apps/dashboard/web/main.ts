/**
 * The dashboard: a replica of the Edge's machines in IndexedDB, kept live by FrontendSync.
 * It draws from the replica first (so it works offline), pairs once if the link needs it, then
 * syncs; every change of the replica (from the Edge or a local edit) redraws the page.
 */
import { openStore, registerAdapterModule } from '@cse/core';
import * as indexeddb from '@cse/adapter-indexeddb';
import { FrontendSync, describeGrant } from '@cse/sync';
import type { SyncProgress, SyncStatus, WriteOutcome } from '@cse/sync';
import type { LinkConfig } from '../shared/link-config.js';
import { WORKER_TYPE, machineRegistry } from '../shared/machines.js';
import { databaseName, openLink } from './connection.js';
import { loadRows } from './model.js';
import { DashboardView } from './view.js';
import './style.css';

/** What tests (and the curious, in the console) can read: `window.cseDashboard`. */
export interface DashboardState {
  status: SyncStatus;
  progress: SyncProgress;
  /** Changes received from the Edge since this page loaded. */
  received: number;
  /** The replica's cursors when this page loaded (before anything arrived). */
  startCursors: Record<string, number>;
  pending: number;
  rendered: number;
  /** The progress bar's texts while catching up (the last 50). */
  progressSeen: string[];
  /** Outcomes of the edits made in this tab (the last 50). */
  outcomes: { id: string; kind: WriteOutcome['kind'] }[];
  error: string | undefined;
  /** This browser's grant (its preset name), once the Edge said. */
  grant?: string;
}

const CONFIG_KEY = 'cse-dashboard-config';

async function loadConfig(): Promise<LinkConfig> {
  try {
    const res = await fetch('/config.json', { cache: 'no-store' });
    const config = (await res.json()) as LinkConfig | null;
    if (config !== null) {
      localStorage.setItem(CONFIG_KEY, JSON.stringify(config));
      return config;
    }
  } catch {
    // the server is unreachable: use what the last visit saw
  }
  const saved = localStorage.getItem(CONFIG_KEY);
  if (saved === null) throw new Error('the dashboard server does not know the Edge yet: reload in a moment');
  return JSON.parse(saved) as LinkConfig;
}

/** Resolves once this tab holds the sync lock (at once, unless another tab of this dashboard has it). */
function oneSyncingTab(name: string, onWaiting: () => void): Promise<void> {
  const locks = (navigator as Navigator & { locks?: LockManager }).locks;
  if (locks === undefined) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const hold = (lock: Lock | null): Promise<void> | undefined => {
      if (lock === null) return undefined;
      resolve();
      return new Promise<void>(() => undefined); // held until the tab closes
    };
    void locks.request(name, { ifAvailable: true }, (lock) => {
      if (lock !== null) return hold(lock);
      onWaiting();
      void locks.request(name, hold);
      return undefined;
    });
  });
}

async function main(): Promise<void> {
  const state: DashboardState = { status: 'offline', progress: { applied: 0, cursor: 0, head: 0 }, received: 0, startCursors: {}, pending: 0, rendered: 0, progressSeen: [], outcomes: [], error: undefined };
  (window as unknown as { cseDashboard: DashboardState }).cseDashboard = state;
  const root = document.getElementById('app') as HTMLElement;

  registerAdapterModule('indexeddb:', indexeddb);
  const config = await loadConfig();
  const store = await openStore(`indexeddb:${databaseName(config)}`);
  const registry = machineRegistry();
  const link = await openLink(config, store);
  let frontend: FrontendSync | undefined;

  const view = new DashboardView(root, {
    save: async (id, desired, baseVersion) => {
      if (frontend === undefined) throw new Error('this tab does not sync (not paired yet, or the dashboard is open in another tab): edit there');
      if (frontend.status === 'revoked') throw new Error("this browser's pairing was revoked: it cannot send edits");
      await frontend.saveDesired(WORKER_TYPE, id, { ...desired }, { baseVersion });
    },
    resolve: async (id, choice) => {
      if (frontend === undefined) throw new Error('this tab does not sync (not paired yet, or the dashboard is open in another tab): resolve it there');
      await frontend.resolveConflict(WORKER_TYPE, id, choice);
    },
    share: async (grant) => {
      if (frontend === undefined) throw new Error('this tab does not sync: make codes in the tab that does');
      const made = await frontend.admin('pair', { grant, label: `${grant} (from the dashboard)`, ttlMs: 10 * 60_000 });
      return { code: made.code as string, expiresAt: made.expiresAt as number };
    },
    pair: async (code) => {
      await link.pair(code);
      view.showPairing(false);
      await startSync();
    },
  });
  view.setLink(link.description);

  // Redraw from the replica: at once, then on each of its changes (at most every 150 ms).
  let drawing = false;
  let again = false;
  const draw = async (): Promise<void> => {
    if (drawing) {
      again = true;
      return;
    }
    drawing = true;
    try {
      do {
        again = false;
        view.render(await loadRows(store));
        state.rendered++;
        if (frontend !== undefined) {
          state.pending = frontend.pending;
          view.setStatus(frontend.status, frontend.progress, frontend.pending);
        }
        await new Promise((r) => setTimeout(r, 150));
      } while (again);
    } finally {
      drawing = false;
    }
  };
  await draw();
  store.onChanges(await store.lastSyncId(), () => draw(), { onError: (e) => (state.error = String(e)) });
  setInterval(() => view.tick(), 1000);

  let lastApplied = 0;
  const startSync = async (): Promise<void> => {
    if (frontend !== undefined) return;
    const fe = new FrontendSync({ store, registry, connect: link.connect, backoff: { min: 250, max: 2000 } });
    frontend = fe;
    fe.onOutcome((o) => {
      state.outcomes = [...state.outcomes.slice(-49), { id: o.id, kind: o.kind }];
      view.setOutcome(o);
    });
    fe.onStatus((status, progress) => {
      state.received += progress.applied >= lastApplied ? progress.applied - lastApplied : progress.applied;
      lastApplied = progress.applied;
      state.status = status;
      state.progress = progress;
      state.pending = fe.pending;
      const shown = view.setStatus(status, progress, fe.pending);
      const grant = fe.grant;
      if (grant !== undefined) {
        state.grant = grant.preset ?? 'custom';
        if (view.setAccess({ canWrite: fe.mayWrite(WORKER_TYPE), admin: grant.admin, summary: describeGrant(grant) })) void draw();
      }
      if (shown !== undefined) state.progressSeen = [...state.progressSeen.slice(-49), shown];
    });
    view.setStatus(fe.status, fe.progress, fe.pending);
    await fe.start();
    state.startCursors = { ...fe.cursors };
  };

  const code = new URLSearchParams(location.hash.slice(1)).get('pair');
  // A code is used once: keep it out of the address bar (and out of a reload).
  if (code !== null) history.replaceState(null, '', location.pathname + location.search);
  // One FrontendSync per replica: a second tab shows the same replica (live, through the
  // IndexedDB change feed) and takes over the sync when the first one closes.
  await oneSyncingTab(`cse-dashboard-sync:${databaseName(config)}`, () => view.showOtherTab(true));
  view.showOtherTab(false);
  if (link.paired) {
    await startSync();
    return;
  }
  if (code === null) {
    view.showPairing(true);
    return;
  }
  try {
    await link.pair(code);
    await startSync();
  } catch (e) {
    view.showPairing(true, `Pairing failed: ${e instanceof Error ? e.message : String(e)}`);
  }
}

main().catch((e: unknown) => {
  const message = e instanceof Error ? e.message : String(e);
  (window as unknown as { cseDashboard?: { error?: string } }).cseDashboard ??= {};
  ((window as unknown as { cseDashboard: { error?: string } }).cseDashboard).error = message;
  const el = document.getElementById('app');
  if (el) el.insertAdjacentHTML('afterbegin', `<p class="error panel">The dashboard could not start: ${message.replace(/</g, '&lt;')}</p>`);
});
