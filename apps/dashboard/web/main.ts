/**
 * The dashboard page: it draws what the sync worker (`sync-worker.ts`) sends and passes edits to
 * it. The replica (IndexedDB) and FrontendSync run in that worker, off this thread: a SharedWorker
 * where the browser has one (all tabs of this dashboard share one sync), else a dedicated worker
 * per tab of which the Web Locks leader syncs.
 */
import type { SyncProgress, SyncStatus, WriteOutcome } from '@cse/sync';
import type { LinkConfig } from '../shared/link-config.js';
import { databaseName } from './connection.js';
import type { StatusFilter } from './find.js';
import { selectRows } from './find.js';
import type { MachineRow } from './model.js';
import { showUpdateRequired } from './update-notice.js';
import { DashboardView } from './view.js';
import type { Call, ToPage, ToWorker } from './worker-protocol.js';
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
  /** Machines in the replica (the table draws only those near the viewport). */
  machines: number;
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

interface WorkerPort {
  postMessage(message: ToWorker): void;
  onmessage: ((ev: MessageEvent<ToPage>) => void) | null;
}

/** The worker that syncs this Edge's replica: shared by every tab where the browser can. */
function syncWorker(config: LinkConfig): WorkerPort {
  const name = databaseName(config);
  if (typeof SharedWorker !== 'undefined') {
    const shared = new SharedWorker(new URL('./sync-worker.ts', import.meta.url), { type: 'module', name });
    return shared.port as unknown as WorkerPort;
  }
  return new Worker(new URL('./sync-worker.ts', import.meta.url), { type: 'module', name }) as unknown as WorkerPort;
}

async function main(): Promise<void> {
  const state: DashboardState = { status: 'offline', progress: { applied: 0, cursor: 0, head: 0 }, received: 0, startCursors: {}, pending: 0, machines: 0, rendered: 0, progressSeen: [], outcomes: [], error: undefined };
  (window as unknown as { cseDashboard: DashboardState }).cseDashboard = state;
  const root = document.getElementById('app') as HTMLElement;
  const config = await loadConfig();
  const port = syncWorker(config);

  let seq = 0;
  const replies = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const call = <T>(c: Call): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      seq += 1;
      replies.set(seq, { resolve: resolve as (v: unknown) => void, reject });
      port.postMessage({ type: 'call', seq, call: c });
    });

  // The page's compact copy of the rows: only what changed arrives, and only that is redrawn.
  const rows = new Map<string, MachineRow>();
  let all: MachineRow[] = [];
  let find: { query: string; filter: StatusFilter } = { query: '', filter: 'all' };
  let drawQueued = false;
  const draw = (): void => {
    drawQueued = false;
    const now = Date.now();
    view.render(selectRows(all, find.query, find.filter, now), now, all);
    state.machines = all.length;
    state.rendered++;
  };
  const queueDraw = (): void => {
    if (drawQueued) return;
    drawQueued = true;
    setTimeout(draw, 0);
  };

  const view = new DashboardView(root, {
    find: (query, filter) => {
      find = { query, filter };
      draw();
    },
    save: (id, desired, baseVersion) => call({ method: 'save', id, desired, baseVersion }),
    resolve: (id, choice) => call({ method: 'resolve', id, choice }),
    share: (grant) => call({ method: 'share', grant }),
    paired: () => call({ method: 'paired' }),
    revoke: (frontendId) => call({ method: 'revoke', frontendId }),
    pair: async (code) => {
      await call({ method: 'pair', code });
      view.showPairing(false);
    },
  });

  setInterval(() => view.tick(), 1000);
  // Staleness changes with time alone: the filter and the summary follow it.
  setInterval(queueDraw, 5000);

  const onMessage = (msg: ToPage): void => {
    switch (msg.type) {
      case 'hello':
        view.setLink(msg.description);
        return;
      case 'rows': {
        for (const id of msg.removed) rows.delete(id);
        for (const row of msg.changed) rows.set(row.id, row);
        all = [...rows.values()];
        queueDraw();
        return;
      }
      case 'role':
        view.showOtherTab(msg.role === 'other-tab');
        // Read-only where another tab syncs (a browser without SharedWorker): no Edit to refuse later.
        if (msg.role === 'other-tab' && view.setAccess({ canWrite: false, admin: false, summary: 'read-only in this tab (the dashboard is open in another tab: edit there)' })) draw();
        view.showPairing(msg.role === 'unpaired', msg.error);
        return;
      case 'sync': {
        const s = msg.state;
        Object.assign(state, { status: s.status, progress: s.progress, pending: s.pending, received: s.received, startCursors: s.startCursors });
        const shown = view.setStatus(s.status, s.progress, s.pending);
        showUpdateRequired(s.updateRequired);
        if (shown !== undefined) state.progressSeen = [...state.progressSeen.slice(-49), shown];
        if (s.grant !== undefined) {
          state.grant = s.grant.preset;
          if (view.setAccess(s.grant)) draw();
        }
        return;
      }
      case 'outcome':
        state.outcomes = [...state.outcomes.slice(-49), { id: msg.outcome.id, kind: msg.outcome.kind }];
        view.setOutcome(msg.outcome);
        return;
      case 'reply': {
        const waiting = replies.get(msg.seq);
        replies.delete(msg.seq);
        if (msg.ok) waiting?.resolve(msg.value);
        else waiting?.reject(new Error(msg.error));
        return;
      }
      case 'error':
        state.error = msg.message;
        return;
    }
  };
  port.onmessage = (ev) => onMessage(ev.data);

  const code = new URLSearchParams(location.hash.slice(1)).get('pair');
  // A code is used once: keep it out of the address bar (and out of a reload).
  if (code !== null) history.replaceState(null, '', location.pathname + location.search);
  port.postMessage({ type: 'init', config, code: code ?? undefined });
}

main().catch((e: unknown) => {
  const message = e instanceof Error ? e.message : String(e);
  (window as unknown as { cseDashboard?: { error?: string } }).cseDashboard ??= {};
  ((window as unknown as { cseDashboard: { error?: string } }).cseDashboard).error = message;
  const el = document.getElementById('app');
  if (el) el.insertAdjacentHTML('afterbegin', `<p class="error panel">The dashboard could not start: ${message.replace(/</g, '&lt;')}</p>`);
});
