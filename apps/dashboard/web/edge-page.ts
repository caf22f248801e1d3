/**
 * One Edge in the page: its line to the page's sync worker (one SharedWorker for every Edge, in
 * which each Edge has its own IndexedDB database, its own sync session and its machines' rows),
 * the rows it draws (the worker sends those near the viewport, in order, and the counts), and its
 * view (drawn only while this Edge is the one shown). The fleet overview (`fleet.ts`) reads the
 * counts; `main.ts` decides which Edge is shown.
 */
import type { SyncProgress, SyncStatus, WriteOutcome } from '@cse/sync';
import type { LinkConfig } from '../shared/link-config.js';
import { databaseName } from '../shared/link-config.js';
import { DetailView } from './detail.js';
import { showUpdateRequired } from './update-notice.js';
import { machineRow } from './model.js';
import type { RowCounts } from './row-set.js';
import { DashboardView } from './view.js';
import type { RowWindow } from './view.js';
import type { Call, Role, ToPage, ToPageEnvelope, ToWorker, ToWorkerEnvelope, ViewRequest } from './worker-protocol.js';

/** Rows asked for beyond each edge of the drawn range, so a scroll seldom waits for the worker. */
const MARGIN = 80;
const NO_ROWS: RowWindow = { total: 0, from: 0, rows: [] };
const NO_COUNTS: RowCounts = { machines: 0, running: 0, failed: 0, moving: 0, notAtDesired: 0, pending: 0, conflicts: 0, loading: 0, stale: 0 };

/** What tests (and the curious, in the console) can read: `window.cseDashboard` (the Edge shown). */
export interface DashboardState {
  /** The Edge's id. */
  edgeId: string;
  status: SyncStatus;
  progress: SyncProgress;
  /** Changes received from the Edge since this page loaded. */
  received: number;
  /** The replica's cursors when this page loaded (before anything arrived). */
  startCursors: Record<string, number>;
  pending: number;
  /** Machines in the replica (the table draws only those near the viewport). */
  machines: number;
  /** Machines whose Observed document has not arrived yet. */
  loading: number;
  /** Rows the page holds (the worker sends those near the viewport; it keeps every machine's). */
  held: number;
  rendered: number;
  /** The progress bar's texts while catching up (the last 50). */
  progressSeen: string[];
  /** Outcomes of the edits made in this tab (the last 50). */
  outcomes: { id: string; kind: WriteOutcome['kind'] }[];
  error: string | undefined;
  /** This browser's grant (its preset name), once the Edge said. */
  grant?: string;
  /** `unpaired` until this browser has paired with this Edge. */
  role?: Role;
  /** How many tabs this Edge's sync serves, this one included. */
  tabs: number;
  /** When the sync was first live (performance.now()), and how often it left live since (status flaps). */
  liveAt?: number;
  flaps: number;
  /** Each flap: the status it left live for, when (performance.now()), the progress then, and the sync's last error. */
  flapLog: { to: SyncStatus; at: number; progress: SyncProgress; why?: string }[];
}

/** The fleet overview's line for one Edge. */
export interface EdgeCounts {
  readonly machines: number;
  readonly failed: number;
  readonly notAtDesired: number;
  readonly conflicts: number;
}

interface WorkerPort {
  postMessage(message: ToWorker): void;
  onmessage: ((msg: ToPage) => void) | undefined;
}

/** The page's one sync worker (every Edge's sync), and where its messages go, by Edge. */
let syncWorkerOfPage: { post(m: ToWorkerEnvelope): void; routes: Map<string, (m: ToPage) => void> } | undefined;

function openSyncWorker(): NonNullable<typeof syncWorkerOfPage> {
  const routes = new Map<string, (m: ToPage) => void>();
  const port: { postMessage(m: ToWorkerEnvelope): void; onmessage: ((ev: MessageEvent<ToPageEnvelope>) => void) | null } =
    typeof SharedWorker !== 'undefined'
      ? (new SharedWorker(new URL('./sync-worker.ts', import.meta.url), { type: 'module', name: 'cse-dashboard-sync' }).port as unknown as typeof port)
      : (new Worker(new URL('./sync-worker.ts', import.meta.url), { type: 'module', name: 'cse-dashboard-sync' }) as unknown as typeof port);
  port.onmessage = (ev) => routes.get(ev.data.edge)?.(ev.data.msg);
  // Leaving (closed, reloaded, navigated away): every Edge's sync forgets this tab. A tab brought
  // back from the back/forward cache was forgotten, so it loads again.
  addEventListener('pagehide', () => {
    for (const edge of routes.keys()) port.postMessage({ edge, msg: { type: 'bye' } });
  });
  addEventListener('pageshow', (ev) => {
    if (ev.persisted) location.reload();
  });
  return { post: (m) => port.postMessage(m), routes };
}

/** This Edge's line to the sync worker: shared by every tab where the browser can, and by every Edge of the page. */
function syncWorker(config: LinkConfig): WorkerPort {
  const edge = databaseName(config);
  const worker = (syncWorkerOfPage ??= openSyncWorker());
  const line: WorkerPort = { postMessage: (msg) => worker.post({ edge, msg }), onmessage: undefined };
  worker.routes.set(edge, (msg) => line.onmessage?.(msg));
  return line;
}

export class EdgePage {
  readonly config: LinkConfig;
  readonly edgeId: string;
  readonly root: HTMLElement;
  readonly state: DashboardState;
  readonly #port: WorkerPort;
  readonly #view: DashboardView;
  readonly #detail: DetailView;
  readonly #replies = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #seq = 0;
  /** The rows this page holds: those the worker sent for the range asked (the view draws them). */
  #window: RowWindow = NO_ROWS;
  #counts: RowCounts = NO_COUNTS;
  /** What was last asked of the worker. */
  #request: ViewRequest = { selection: 0, query: '', filter: 'all', from: 0, count: 0, detail: undefined };
  #drawQueued = false;
  #shown = false;
  #pairWaiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  /** Called when the status or the rows changed (the fleet overview follows). */
  onChange: () => void = () => undefined;
  /** The worker types this Edge cannot serve in the page's schema version (S12: "Reload to update"). */
  #updateRequired: readonly string[] = [];

  constructor(config: LinkConfig, root: HTMLElement) {
    this.config = config;
    this.edgeId = config.edgeId ?? '';
    this.root = root;
    root.hidden = true;
    this.state = { edgeId: this.edgeId, status: 'offline', progress: { applied: 0, cursor: 0, head: 0 }, received: 0, startCursors: {}, pending: 0, machines: 0, loading: 0, held: 0, rendered: 0, progressSeen: [], outcomes: [], error: undefined, tabs: 0, flaps: 0, flapLog: [] };
    this.#port = syncWorker(config);
    const call = <T>(c: Call): Promise<T> => this.call<T>(c);
    this.#detail = new DetailView({ history: (id) => call({ method: 'history', id }) });
    this.#view = new DashboardView(root, {
      find: (query, filter) => {
        if (query === this.#request.query && filter === this.#request.filter) return;
        // The rows held are another selection's: none is drawn until this one's arrive.
        this.#hold(NO_ROWS);
        this.#ask({ ...this.#request, selection: this.#request.selection + 1, query, filter });
        this.#draw();
      },
      range: (first, last) => this.#range(first, last),
      save: (id, desired, baseVersion) => call({ method: 'save', id, desired, baseVersion }),
      resolve: (id, choice) => call({ method: 'resolve', id, choice }),
      share: (grant) => call({ method: 'share', grant }),
      paired: () => call({ method: 'paired' }),
      revoke: (frontendId) => call({ method: 'revoke', frontendId }),
      pair: async (code) => {
        await call({ method: 'pair', code });
        this.#view.showPairing(false);
      },
      detail: (id) => {
        const row = this.#window.rows.find((r) => r.id === id);
        if (row !== undefined) this.#detail.open(machineRow(row));
        // Its changes are sent while it is open.
        this.#ask(this.#request, id);
      },
    });
    root.append(this.#detail.element);
    this.#port.onmessage = (msg) => this.#onMessage(msg);
  }

  call<T>(c: Call): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#seq += 1;
      this.#replies.set(this.#seq, { resolve: resolve as (v: unknown) => void, reject });
      this.#port.postMessage({ type: 'call', seq: this.#seq, call: c });
    });
  }

  /** Starts the sync (pairing first with `code`, if given). */
  init(code: string | undefined): void {
    this.#port.postMessage({ type: 'init', config: this.config, code });
    this.#ask(this.#request); // the counts, and the rows once it is shown
  }

  /** Pairs this Edge's replica with a code (the "Add an Edge" form of an Edge already listed). */
  pair(code: string): Promise<void> {
    return this.call({ method: 'pair', code });
  }

  /** Shows or hides this Edge's view; hidden, it holds no rows (the worker still sends its counts). */
  show(shown: boolean): void {
    this.#shown = shown;
    this.root.hidden = !shown;
    if (shown) {
      this.#queueDraw(); // at the next frame (not in the task that built the page); asks for the rows it draws
      showUpdateRequired(this.#updateRequired); // the notice is the shown Edge's
    } else {
      this.#hold({ ...this.#window, rows: [] });
      this.#ask({ ...this.#request, from: 0, count: 0 });
    }
  }

  /** Refreshes the "last report" times; with `refresh`, the filter and the counts too (staleness changes with time alone). */
  tick(refresh: boolean): void {
    if (!this.#shown) return;
    this.#view.tick();
    if (refresh) this.#ask(this.#request);
  }

  /** Resolves once this browser is paired with the Edge and syncs; rejects with why pairing failed. */
  whenPaired(): Promise<void> {
    if (this.state.role === 'sync' || this.state.role === 'other-tab') return Promise.resolve();
    return new Promise((resolve, reject) => this.#pairWaiters.push({ resolve, reject }));
  }

  /** Machines, failed, not at desired state, conflicts (as the worker last counted them). */
  get counts(): EdgeCounts {
    return this.#counts;
  }

  /** The rows this page holds from now on (`state.held` says how many). */
  #hold(window: RowWindow): void {
    this.#window = window;
    this.state.held = window.rows.length;
  }

  /** Tells the worker what this page shows (it answers with those rows, and again as they change). */
  #ask(request: ViewRequest, detail = this.#detail.shownId): void {
    this.#request = { ...request, detail };
    this.#port.postMessage({ type: 'view', view: this.#request });
  }

  /** The view is about to draw the selected rows `first`..`last`: asks for them (and a margin) unless asked already. */
  #range(first: number, last: number): void {
    const r = this.#request;
    if (first >= r.from && last <= r.from + r.count) return;
    const from = Math.max(0, first - MARGIN);
    this.#ask({ ...r, from, count: last - from + MARGIN });
  }

  #draw(): void {
    this.#drawQueued = false;
    if (!this.#shown) return;
    this.#view.render(this.#window, Date.now(), this.#counts);
    this.state.rendered++;
  }

  /** One draw per frame however many messages arrive before it (each draw lays the table out). */
  #queueDraw(): void {
    if (this.#drawQueued || !this.#shown) return;
    this.#drawQueued = true;
    requestAnimationFrame(() => this.#draw());
  }

  #onMessage(msg: ToPage): void {
    const state = this.state;
    const view = this.#view;
    switch (msg.type) {
      case 'hello':
        view.setLink(msg.description);
        return;
      case 'window': {
        this.#counts = msg.counts;
        state.machines = msg.counts.machines;
        state.loading = msg.counts.loading;
        if (msg.detail !== undefined && msg.detail.id === this.#detail.shownId) this.#detail.update(machineRow(msg.detail));
        // Rows of an older search or filter are not drawn (their counts are still this Edge's).
        if (msg.selection === this.#request.selection && this.#shown) {
          this.#hold(msg.rows === undefined ? { ...this.#window, total: msg.total } : { total: msg.total, from: msg.from, rows: msg.rows });
          this.#queueDraw();
        }
        this.onChange();
        return;
      }
      case 'role':
        state.role = msg.role;
        view.showOtherTab(msg.role === 'other-tab');
        // Read-only where another tab syncs (a browser without SharedWorker): no Edit to refuse later.
        if (msg.role === 'other-tab' && view.setAccess({ canWrite: false, admin: false, summary: 'read-only', readOnly: 'the dashboard is open in another tab, which syncs this Edge: edit there' })) this.#draw();
        view.showPairing(msg.role === 'unpaired', msg.error);
        if (msg.role !== 'unpaired' || msg.error !== undefined) {
          const waiters = this.#pairWaiters;
          this.#pairWaiters = [];
          for (const w of waiters) {
            if (msg.role === 'unpaired') w.reject(new Error(msg.error));
            else w.resolve();
          }
        }
        this.onChange();
        return;
      case 'sync': {
        const s = msg.state;
        if (s.status === 'live') state.liveAt ??= performance.now();
        else if (state.status === 'live') {
          state.flaps++;
          state.flapLog = [...state.flapLog.slice(-49), { to: s.status, at: performance.now(), progress: s.progress, ...(s.lastError === undefined ? {} : { why: s.lastError }) }];
        }
        Object.assign(state, { status: s.status, progress: s.progress, pending: s.pending, received: s.received, startCursors: s.startCursors });
        const shown = view.setStatus(s.status, s.progress, s.pending);
        this.#updateRequired = s.updateRequired;
        if (this.#shown) showUpdateRequired(this.#updateRequired);
        if (shown !== undefined) state.progressSeen = [...state.progressSeen.slice(-49), shown];
        if (s.status === 'revoked') {
          // No Edit to refuse later: a revoked browser sends nothing.
          if (view.setAccess({ canWrite: false, admin: false, summary: 'revoked', readOnly: "this browser's pairing was revoked on the Edge, so it cannot send edits; pair it again with a new code" })) this.#draw();
        } else if (s.grant !== undefined) {
          state.grant = s.grant.preset;
          if (view.setAccess(s.grant)) this.#draw();
        }
        this.onChange();
        return;
      }
      case 'tabs':
        state.tabs = msg.count;
        return;
      case 'outcome':
        state.outcomes = [...state.outcomes.slice(-49), { id: msg.outcome.id, kind: msg.outcome.kind }];
        view.setOutcome(msg.outcome);
        return;
      case 'reply': {
        const waiting = this.#replies.get(msg.seq);
        this.#replies.delete(msg.seq);
        if (msg.ok) waiting?.resolve(msg.value);
        else waiting?.reject(new Error(msg.error));
        return;
      }
      case 'error':
        state.error = msg.message;
        return;
    }
  }
}
