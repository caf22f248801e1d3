/**
 * The dashboard's sync, off the page's main thread: each Edge's IndexedDB replica and its
 * FrontendSync run here, one `SyncHub` per Edge, all in this one worker (one heap and one garbage
 * collector for every Edge: a worker per Edge cost each its own heap, most of it garbage not yet
 * collected). In a SharedWorker every tab of the dashboard shares one sync per Edge; in a browser
 * without SharedWorker each tab has a dedicated worker and, per Edge, the Web Locks leader syncs
 * while the others show the replica read-only. The rows of every machine are kept here (ordered,
 * counted and searched by a `RowSet`); each tab is sent only the rows it draws, its counts and
 * its total (`window`), when they change: a first sync of 100,000 documents costs the page a few
 * dozen rows at a time, not a copy of the fleet (whose every row survived each of the page's
 * garbage collections, and whose every change the page had to apply).
 */
import { isCseError, openStore, registerAdapterModule } from '@cse/core';
import type { Store } from '@cse/core';
import * as indexeddb from '@cse/adapter-indexeddb';
import { FrontendSync, describeGrant } from '@cse/sync';
import type { LinkConfig } from '../shared/link-config.js';
import { WORKER_TYPE, machineRegistry } from '../shared/machines.js';
import type { Link } from './connection.js';
import { databaseName } from '../shared/link-config.js';
import { openLink } from './connection.js';
import type { MachineRow, PageRow } from './model.js';
import { MACHINE_COLLECTIONS, MachineDocs, pageRow, sameRow } from './model.js';
import { RowSet } from './row-set.js';
import type { RowCounts } from './row-set.js';
import type { Call, PairedView, Role, SyncState, ToPage, ToPageEnvelope, ToWorker, ToWorkerEnvelope, ViewRequest } from './worker-protocol.js';

/** Changed rows go to the page at most once per this many ms while changes arrive. */
const DRAW_EVERY_MS = 150;
/** Progress alone (no new status) goes to the page at most this often. */
const PROGRESS_EVERY_MS = 100;
const DESIRED_COLLECTION = `${WORKER_TYPE}_desired`;
/** Changes read from the replica's feed per page. */
const FEED_PAGE = 2000;

/** A tab, as one Edge's hub sees it. */
interface Port {
  postMessage(message: ToPage): void;
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Why a pairing failed, said for the person holding the code. */
function pairingFailed(e: unknown): Error {
  const why = message(e);
  if (/expired/i.test(why)) {
    return new Error('This code has expired; ask for a new one: each npm start prints one, and a paired admin browser makes one under "Pair another browser".');
  }
  return new Error(`Pairing failed: ${why}`);
}

class SyncHub {
  readonly #ports = new Set<Port>();
  /** Each machine's row, by machine. */
  readonly #rows = new Map<string, MachineRow>();
  /** The same rows as the page draws them, in the table's order, counted. */
  readonly #set = new RowSet();
  /** What each tab shows, and what it was last sent. */
  readonly #views = new Map<Port, { view: ViewRequest; sent?: { selection: number; total: number; from: number; rows: readonly PageRow[]; counts: string; detail: PageRow | undefined } }>();
  /** The replica's machine documents, kept current from its change feed. */
  readonly #docs = new MachineDocs();
  /** Machines whose documents changed since the last rows were sent. */
  readonly #touched = new Set<string>();
  /** Ends the pause between two draws early (a Desired change). */
  #wake: (() => void) | undefined;
  #store: Store | undefined;
  #link: Link | undefined;
  #frontend: FrontendSync | undefined;
  #description = '';
  #role: { role: Role; error?: string } | undefined;
  #sync: SyncState | undefined;
  #opened: Promise<void> | undefined;
  #received = 0;
  #lastApplied = 0;
  #drawing = false;

  /** A message of a tab (the first one adds the tab; `bye` removes it). */
  receive(port: Port, msg: ToWorker): void {
    if (msg.type === 'bye') {
      // A closed tab's port never says so (MessagePort has no close event in every browser): the
      // page says bye on pagehide, or the hub would keep computing windows for it for good.
      this.#views.delete(port);
      if (this.#ports.delete(port)) this.#send(undefined, { type: 'tabs', count: this.#ports.size });
      return;
    }
    if (!this.#ports.has(port)) {
      this.#ports.add(port);
      this.#send(undefined, { type: 'tabs', count: this.#ports.size });
    }
    void this.#onMessage(port, msg);
  }

  #send(port: Port | undefined, msg: ToPage): void {
    if (port !== undefined) port.postMessage(msg);
    else for (const p of this.#ports) p.postMessage(msg);
  }

  /**
   * Sends `port` the rows its view shows, the total and the counts, unless (without `force`)
   * nothing of that changed since it was last sent.
   */
  #sendWindow(port: Port, force: boolean): void {
    const v = this.#views.get(port);
    if (v === undefined) return;
    const { view, sent } = v;
    const now = Date.now();
    const selected = this.#set.select(view.query, view.filter, now);
    const rows = selected.slice(view.from, view.from + view.count);
    const counts: RowCounts = this.#set.counts(now);
    const countsKey = JSON.stringify(counts);
    const detail = view.detail === undefined ? undefined : this.#set.get(view.detail);
    const sameRows = sent !== undefined && sent.selection === view.selection && sent.from === view.from && sent.rows.length === rows.length && rows.every((r, k) => r === sent.rows[k]);
    if (!force && sameRows && sent.total === selected.length && sent.counts === countsKey && sent.detail === detail) return;
    v.sent = { selection: view.selection, total: selected.length, from: view.from, rows, counts: countsKey, detail };
    this.#send(port, {
      type: 'window',
      selection: view.selection,
      total: selected.length,
      from: view.from,
      counts,
      ...(sameRows && !force ? {} : { rows }),
      ...(detail === undefined || (detail === sent?.detail && !force) ? {} : { detail }),
    });
  }

  async #onMessage(port: Port, msg: Exclude<ToWorker, { type: 'bye' }>): Promise<void> {
    if (msg.type === 'view') {
      const v = this.#views.get(port);
      if (v === undefined) this.#views.set(port, { view: msg.view });
      else v.view = msg.view;
      this.#sendWindow(port, true);
      return;
    }
    if (msg.type === 'init') {
      this.#opened ??= this.#open(msg.config, msg.code);
      try {
        await this.#opened;
      } catch (e) {
        this.#send(port, { type: 'error', message: message(e) });
        return;
      }
      // A tab that brings a code for this replica while it waits for one (its first tab had none).
      if (msg.code !== undefined && this.#role?.role === 'unpaired' && this.#frontend === undefined) {
        try {
          await this.#call({ method: 'pair', code: msg.code });
        } catch (e) {
          this.#setRole('unpaired', message(e));
        }
      }
      // A tab that joins: everything the others already have (its rows once it says which it shows).
      this.#send(port, { type: 'hello', description: this.#description });
      this.#sendWindow(port, true);
      if (this.#role !== undefined) this.#send(port, { type: 'role', ...this.#role });
      if (this.#sync !== undefined) this.#send(port, { type: 'sync', state: this.#sync });
      return;
    }
    try {
      this.#send(port, { type: 'reply', seq: msg.seq, ok: true, value: await this.#call(msg.call) });
    } catch (e) {
      this.#send(port, { type: 'reply', seq: msg.seq, ok: false, error: message(e) });
    }
  }

  async #call(call: Call): Promise<unknown> {
    if (call.method === 'pair') {
      const link = this.#link;
      if (link === undefined) throw new Error('the dashboard is still starting: try again in a moment');
      try {
        await link.pair(call.code);
      } catch (e) {
        throw pairingFailed(e);
      }
      await this.#startSync();
      return undefined;
    }
    const fe = this.#frontend;
    if (fe === undefined) throw new Error(this.#role?.role === 'other-tab' ? 'this tab does not sync (the dashboard is open in another tab): edit there' : 'this browser is not paired with the Edge yet');
    if (call.method === 'save') {
      if (fe.status === 'revoked') throw new Error("this browser's pairing was revoked: it cannot send edits");
      await fe.saveDesired(WORKER_TYPE, call.id, { ...call.desired }, { baseVersion: call.baseVersion });
      return undefined;
    }
    if (call.method === 'resolve') {
      await fe.resolveConflict(WORKER_TYPE, call.id, call.choice);
      return undefined;
    }
    if (call.method === 'paired') {
      const { paired } = (await fe.admin('list')) as { paired: { frontendId: string; label?: string; pairedAt: number; revoked: boolean; grant?: { preset?: string; label?: string } }[] };
      const self = (this.#link as Link).frontendId;
      return paired.map(
        (p): PairedView => ({ frontendId: p.frontendId, label: p.label ?? p.grant?.label ?? p.frontendId.slice(0, 8), grant: p.grant?.preset ?? (p.grant === undefined ? 'none' : 'custom'), pairedAt: p.pairedAt, revoked: p.revoked, self: p.frontendId === self }),
      );
    }
    if (call.method === 'history') return (await fe.admin('history', { collection: `${WORKER_TYPE}_desired`, id: call.id })).history;
    if (call.method === 'revoke') return (await fe.admin('revoke', { frontendId: call.frontendId })).revoked;
    const made = await fe.admin('pair', { grant: call.grant, label: `${call.grant} (from the dashboard)`, ttlMs: 10 * 60_000 });
    return { code: made.code as string, expiresAt: made.expiresAt as number };
  }

  #setRole(role: Role, error?: string): void {
    this.#role = error === undefined ? { role } : { role, error };
    this.#send(undefined, { type: 'role', ...this.#role });
  }

  /** The schema version this page runs (`/config.json`'s `schema`; default the build's). */
  #schema: number | undefined;

  async #open(config: LinkConfig, code: string | undefined): Promise<void> {
    this.#schema = config.schema;
    registerAdapterModule('indexeddb:', indexeddb);
    const store = await openStore(`indexeddb:${databaseName(config)}`);
    this.#store = store;
    const link = await openLink(config, store);
    this.#link = link;
    this.#description = link.description;
    await this.#follow(store);
    void this.#lead(config, code);
  }

  /** Syncs once this worker is the only one syncing this replica (always so in a SharedWorker). */
  async #lead(config: LinkConfig, code: string | undefined): Promise<void> {
    await oneSyncingWorker(`cse-dashboard-sync:${databaseName(config)}`, () => this.#setRole('other-tab'));
    const link = this.#link as Link;
    if (link.paired) return this.#startSync();
    if (code === undefined) return this.#setRole('unpaired');
    try {
      await link.pair(code);
      await this.#startSync();
    } catch (e) {
      this.#setRole('unpaired', pairingFailed(e).message);
    }
  }

  async #startSync(): Promise<void> {
    if (this.#frontend !== undefined) return;
    const link = this.#link as Link;
    const fe = new FrontendSync({ store: this.#store as Store, registry: machineRegistry(this.#schema), connect: link.connect, backoff: { min: 250, max: 2000 } });
    this.#frontend = fe;
    this.#setRole('sync');
    let startCursors: Record<string, number> = {};
    const publish = (): void => {
      const grant = fe.grant;
      this.#sync = {
        status: fe.status,
        progress: fe.progress,
        pending: fe.pending,
        received: this.#received,
        startCursors,
        updateRequired: [...fe.updateRequired],
        ...(fe.lastError === undefined ? {} : { lastError: message(fe.lastError) }),
        grant: grant === undefined ? undefined : { preset: grant.preset ?? 'custom', canWrite: fe.mayWrite(WORKER_TYPE), admin: grant.admin, summary: describeGrant(grant) },
      };
      this.#send(undefined, { type: 'sync', state: this.#sync });
    };
    fe.onOutcome((outcome) => this.#send(undefined, { type: 'outcome', outcome }));
    // A new status goes to the page at once; progress alone (a page applied) at most every
    // PROGRESS_EVERY_MS, the last one always (in an initial sync of 100,000 documents each page's
    // progress was a message the page handled).
    let sentAt = 0;
    let trailing: ReturnType<typeof setTimeout> | undefined;
    fe.onStatus((status, progress) => {
      this.#received += progress.applied >= this.#lastApplied ? progress.applied - this.#lastApplied : progress.applied;
      this.#lastApplied = progress.applied;
      const now = Date.now();
      if (status !== this.#sync?.status || fe.pending !== this.#sync.pending || now - sentAt >= PROGRESS_EVERY_MS) {
        clearTimeout(trailing);
        trailing = undefined;
        sentAt = now;
        publish();
      } else {
        trailing ??= setTimeout(() => {
          trailing = undefined;
          sentAt = Date.now();
          publish();
        }, PROGRESS_EVERY_MS - (now - sentAt));
      }
    });
    publish();
    await fe.start();
    startCursors = { ...fe.cursors };
    publish();
  }

  /**
   * Reads the replica's machine documents once, sends their rows, then follows the replica's change
   * feed: each change updates the documents held here and marks its machine, and only the marked
   * machines' rows are rebuilt and compared (a change costs its rows, not a read of the replica).
   * A feed cursor made stale by a compaction reads everything again.
   */
  async #follow(store: Store): Promise<void> {
    const at = await store.lastSyncId();
    await this.#docs.loadAll(store);
    for (const id of this.#docs.ids()) this.#touched.add(id);
    for (const id of this.#rows.keys()) this.#touched.add(id);
    this.#sendTouched();
    store.onChanges(
      at,
      (page) => {
        let desired = false;
        for (const c of page.changes) {
          this.#touched.add(this.#docs.apply(c.collection, c.id, c.deleted, c.doc));
          if (c.collection === DESIRED_COLLECTION) desired = true;
        }
        // A Desired change (an edit saved, applied, refused or in conflict) goes out at once;
        // Observed reports wait for the next draw.
        if (desired) this.#wake?.();
        if (this.#touched.size > 0) void this.#draw();
      },
      {
        collections: MACHINE_COLLECTIONS,
        limit: FEED_PAGE,
        onError: (e) => {
          if (isCseError(e, 'RESET_REQUIRED')) void this.#follow(store).catch((e2: unknown) => this.#send(undefined, { type: 'error', message: message(e2) }));
          else this.#send(undefined, { type: 'error', message: message(e) });
        },
      },
    );
  }

  /** Rebuilds the rows of the marked machines; sends each tab its window when it changed. */
  #sendTouched(): void {
    const changed: PageRow[] = [];
    const removed: string[] = [];
    for (const id of this.#touched) {
      const row = this.#docs.row(id);
      if (row === undefined) {
        if (this.#rows.delete(id)) removed.push(id);
        continue;
      }
      const was = this.#rows.get(id);
      if (was !== undefined && sameRow(was, row)) continue;
      this.#rows.set(id, row);
      changed.push(pageRow(row));
    }
    this.#touched.clear();
    if (changed.length > 0 || removed.length > 0) {
      this.#set.apply(changed, removed);
      for (const port of this.#views.keys()) this.#sendWindow(port, false);
    }
    if (this.#frontend !== undefined && this.#sync !== undefined && this.#sync.pending !== this.#frontend.pending) {
      this.#sync = { ...this.#sync, status: this.#frontend.status, progress: this.#frontend.progress, pending: this.#frontend.pending };
      this.#send(undefined, { type: 'sync', state: this.#sync });
    }
  }

  /** Sends the changed rows at once, then at most every DRAW_EVERY_MS while changes arrive (at once for a Desired change). */
  async #draw(): Promise<void> {
    if (this.#drawing) return;
    this.#drawing = true;
    try {
      while (this.#touched.size > 0) {
        this.#sendTouched();
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => this.#wake?.(), DRAW_EVERY_MS);
          this.#wake = () => {
            clearTimeout(timer);
            this.#wake = undefined;
            resolve();
          };
        });
      }
    } finally {
      this.#drawing = false;
    }
  }
}

/** Resolves once this worker holds the sync lock (at once, unless another worker of this replica has it). */
function oneSyncingWorker(name: string, onWaiting: () => void): Promise<void> {
  const locks = (navigator as Navigator & { locks?: LockManager }).locks;
  if (locks === undefined) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const hold = (lock: Lock | null): Promise<void> | undefined => {
      if (lock === null) return undefined;
      resolve();
      return new Promise<void>(() => undefined); // held until the worker ends
    };
    void locks.request(name, { ifAvailable: true }, (lock) => {
      if (lock !== null) return hold(lock);
      onWaiting();
      void locks.request(name, hold);
      return undefined;
    });
  });
}

/** Each Edge's hub, by its replica's database name. */
const hubs = new Map<string, SyncHub>();

/** Routes a tab's messages to the hub of the Edge each names; each hub answers through its own view of the tab. */
function serve(tab: { postMessage(m: ToPageEnvelope): void; onmessage: ((ev: MessageEvent<ToWorkerEnvelope>) => void) | null }): void {
  const views = new Map<string, Port>();
  tab.onmessage = (ev) => {
    const { edge, msg } = ev.data;
    let view = views.get(edge);
    if (msg.type === 'bye') {
      // The tab leaves: the hub that serves it forgets it (a tab that never spoke makes no hub).
      views.delete(edge);
      if (view !== undefined) hubs.get(edge)?.receive(view, msg);
      return;
    }
    if (view === undefined) {
      view = { postMessage: (m) => tab.postMessage({ edge, msg: m }) };
      views.set(edge, view);
    }
    let hub = hubs.get(edge);
    if (hub === undefined) {
      hub = new SyncHub();
      hubs.set(edge, hub);
    }
    hub.receive(view, msg);
  };
}

type Tab = Parameters<typeof serve>[0];
const scope = self as unknown as { onconnect?: ((ev: MessageEvent) => void) | null } & Tab;
if ('onconnect' in scope) {
  // A SharedWorker: one port per tab.
  scope.onconnect = (ev: MessageEvent) => {
    const port = ev.ports[0] as MessagePort;
    serve(port as unknown as Tab);
    port.start();
  };
} else serve(scope);
