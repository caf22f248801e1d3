/**
 * The page: a header with the connection state (always visible), the initial-sync progress bar,
 * a summary, and one row per machine (identity, desired vs observed, sync status of each
 * document, last report), with inline editing of the desired state and conflict resolution.
 * Plain DOM: rows are keyed by machine id and only redrawn when what they show changed, so an
 * edit form stays open while live updates arrive.
 */
import type { SyncProgress, SyncStatus, WriteOutcome } from '@cse/sync';
import type { MachineDesired } from '../shared/machines.js';
import { DESIRED_STATES, MAX_SPEED } from '../shared/machines.js';
import { DOC_ICON, ago, desiredText, esc, failureText, observedText, outcomeText } from './cell-text.js';
import type { StatusFilter } from './find.js';
import { FILTERS } from './find.js';
import type { MachineRow, PageRow } from './model.js';
import { machineRow } from './model.js';
import type { RowCounts } from './row-set.js';
import type { PairedView } from './worker-protocol.js';

export interface ViewActions {
  /** Saves an edit based on `baseVersion`, the Edge version the form showed when it opened. */
  save(id: string, desired: MachineDesired, baseVersion: number): Promise<void>;
  resolve(id: string, choice: 'mine' | 'theirs'): Promise<void>;
  pair(code: string): Promise<void>;
  /** With an `admin` grant: the browsers paired with the Edge. */
  paired(): Promise<readonly PairedView[]>;
  /** With an `admin` grant: revokes a paired browser. */
  revoke(frontendId: string): Promise<unknown>;
  /** The search box or the status filter changed. */
  find(query: string, filter: StatusFilter): void;
  /** The table is about to draw the selected rows `first`..`last` (in its order): have them sent. */
  range(first: number, last: number): void;
  /** With an `admin` grant: a one-time code for another browser. */
  share(grant: 'viewer' | 'operator'): Promise<{ code: string; expiresAt: number }>;
  /** Opens a machine's detail view. */
  detail(id: string): void;
}

/** What this browser's grant lets it do (from the Edge's welcome). */
export interface Access {
  readonly canWrite: boolean;
  readonly admin: boolean;
  /** One line, e.g. "operator: read all; write all". */
  readonly summary: string;
  /** Why this browser cannot edit here whatever its grant (another tab syncs, its pairing was revoked): said instead of the grant. */
  readonly readOnly?: string;
}

const STATUS_TEXT: Record<SyncStatus, { label: string; detail: string }> = {
  live: { label: 'Online', detail: 'connected to the Edge: changes arrive live' },
  syncing: { label: 'Online, catching up', detail: 'receiving the changes made since this page last saw the Edge' },
  connecting: { label: 'Reconnecting…', detail: 'trying to reach the Edge' },
  offline: { label: 'Offline', detail: 'the Edge cannot be reached; retrying' },
  stopped: { label: 'Stopped', detail: 'not syncing' },
  revoked: { label: 'Revoked', detail: "this browser's pairing was revoked on the Edge: it no longer syncs" },
};

const reason = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** How long the Edge stays unreachable before the offline note shows (a first connect takes a moment). */
const OFFLINE_NOTE_AFTER_MS = 3000;

/** Sets a text only when it changed (a write, even of the same text, makes the frame lay it out again). */
function setText(el: HTMLElement, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

/** Script time a frame spends drawing rows; the others wait for the next frame. */
const FRAME_BUDGET_MS = 6;

/** Rows drawn above and below the viewport. */
const OVERSCAN = 12;

/** The rows the page holds: `rows` are the selected rows `from`..`from + rows.length` of `total`. */
export interface RowWindow {
  readonly total: number;
  readonly from: number;
  readonly rows: readonly PageRow[];
}

export class DashboardView {
  readonly #root: HTMLElement;
  readonly #actions: ViewActions;
  /** The rows drawn, each with the key it was drawn for and its row (parsed from the page row only when that changed). */
  readonly #rows = new Map<string, { tr: HTMLTableRowElement; extra: HTMLTableRowElement | undefined; key: string; json: string; row: MachineRow }>();
  #editing: string | undefined;
  readonly #cellKeys = new WeakMap<HTMLTableCellElement, string>();
  #status: SyncStatus = 'offline';
  #everOnline = false;
  #syncFrom: number | undefined;
  #access: Access | undefined;
  /** Per machine, the outcome of the last edit made in this tab. */
  readonly #outcomes = new Map<string, WriteOutcome>();
  /** Per machine, why the last save or resolve made in this tab failed (until dismissed or one succeeds). */
  readonly #failures = new Map<string, string>();
  /** The rows near the viewport (the page holds no others). */
  #window: RowWindow = { total: 0, from: 0, rows: [] };
  #spacers: [HTMLTableRowElement, HTMLTableRowElement] | undefined;
  /** Estimated height of a row (measured once rows are drawn). */
  #rowHeight = 56;
  #measured = false;
  #paintQueued = false;
  #offlineTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(root: HTMLElement, actions: ViewActions) {
    this.#root = root;
    this.#actions = actions;
    root.innerHTML = `
      <header class="top">
        <div>
          <h1>CSE dashboard</h1>
          <p class="sub" id="link">Machines on your Edge, synced into this browser.</p>
          <p class="sub" id="access" hidden></p>
        </div>
        <div id="connection" class="conn" data-status="offline" role="status" aria-live="polite">
          <span class="dot"></span><span class="conn-label">Offline</span>
          <div class="conn-detail"></div>
        </div>
      </header>
      <section id="pairing" class="panel" hidden>
        <h2>Pair this browser with your Edge</h2>
        <p>Enter the pairing code that <code>npm start</code> printed (it starts with <code>cse1.</code>). You pair once: this browser remembers the Edge.</p>
        <form id="pair-form"><input id="pair-code" autocomplete="off" spellcheck="false" placeholder="cse1.…" size="60" /> <button type="submit">Pair</button></form>
        <p id="pair-error" class="error" hidden></p>
      </section>
      <section id="other-tab" class="panel note" hidden>
        This dashboard is open in another tab, which keeps the data in sync: this tab shows the same
        data live, read-only. Close the other tab and this one takes over.
      </section>
      <section id="progress" class="panel progress" hidden>
        <div class="progress-label"></div>
        <div class="bar"><div class="fill"></div></div>
      </section>
      <section id="offline-note" class="panel note" hidden>
        You are looking at the copy saved in this browser. Edits you make now are kept here
        (<b>pending</b>) and sent to the Edge as soon as it is back.
      </section>
      <section id="share" class="panel" hidden>
        <h2>Pair another browser</h2>
        <p>This browser may pair others. Make a one-time code (valid 10 minutes) and open the link on the other device:
          <button type="button" id="share-viewer" data-grant="viewer">Code for a viewer</button> (sees everything, changes nothing)
          <button type="button" id="share-operator" data-grant="operator">Code for an operator</button> (may also edit)</p>
        <p id="share-result" hidden></p>
        <h2>Paired browsers</h2>
        <div id="paired-list" class="small muted">Loading…</div>
      </section>
      <section id="revoked-note" class="panel note bad" hidden>
        This browser's pairing with the Edge was revoked: it no longer receives changes and cannot
        send edits. Ask the Edge's operator for a new pairing code.
      </section>
      <section class="explain">
        <p><b>Desired</b> is what you ask a machine to do; <b>Observed</b> is what it reports. Differences are
        <mark class="diff">highlighted</mark> until the machine gets there. Click <b>Edit</b> to change a desired state.</p>
        <p class="legend">Sync status of each document:
          <span class="chip chip-synced">✓ synced</span> the Edge has it ·
          <span class="chip chip-pending">◔ pending</span> saved here, not yet confirmed by the Edge ·
          <span class="chip chip-conflict">⚠ conflict</span> the Edge changed it meanwhile: pick a value</p>
      </section>
      <p id="summary" class="summary"></p>
      <form id="find" class="find" role="search">
        <input id="search" type="search" placeholder="Search name, serial, line" aria-label="search machines by name, serial or line" autocomplete="off" />
        <select id="filter" aria-label="show machines">${FILTERS.map((f) => `<option value="${f.value}">${esc(f.label)}</option>`).join('')}</select>
        <span id="shown" class="muted small"></span>
      </form>
      <table class="machines">
        <thead><tr><th>Machine</th><th>Desired (you)</th><th>Observed (machine)</th><th>Sync status</th><th>Last report</th></tr></thead>
        <tbody id="rows"></tbody>
      </table>
      <p id="empty" class="muted">No machines in this browser yet: they appear as soon as the Edge is reached.</p>`;
    const tbody = this.#el('rows');
    window.addEventListener('scroll', () => this.#schedulePaint(), { passive: true });
    window.addEventListener('resize', () => this.#schedulePaint(), { passive: true });
    tbody.addEventListener('click', (ev) => this.#onClick(ev));
    tbody.addEventListener('submit', (ev) => this.#onSubmit(ev));
    const find = (): void => this.#actions.find((this.#el('search') as HTMLInputElement).value, (this.#el('filter') as HTMLSelectElement).value as StatusFilter);
    this.#el('search').addEventListener('input', find);
    this.#el('filter').addEventListener('change', find);
    this.#el('find').addEventListener('submit', (ev) => ev.preventDefault());
    for (const id of ['share-viewer', 'share-operator']) this.#el(id).addEventListener('click', (ev) => this.#onShare(ev));
    this.#el('paired-list').addEventListener('click', (ev) => {
      const button = (ev.target as HTMLElement).closest('button[data-revoke]') as HTMLButtonElement | null;
      if (button === null) return;
      button.disabled = true;
      this.#actions.revoke(button.dataset.revoke as string).then(
        () => this.refreshPaired(),
        (e: unknown) => (this.#el('paired-list').textContent = `Could not revoke: ${reason(e)}`),
      );
    });
    this.#el('pair-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const input = this.#el('pair-code') as HTMLInputElement;
      this.#actions.pair(input.value).catch((e: unknown) => this.showPairing(true, reason(e)));
    });
  }

  #el(id: string): HTMLElement {
    return this.#root.querySelector(`#${id}`) as HTMLElement;
  }

  setLink(description: string): void {
    this.#el('link').textContent = `The machines on your Edge, synced live into this browser through the ${description}${description.endsWith('…') ? '' : '.'}`;
  }

  showPairing(show: boolean, error?: string): void {
    this.#el('pairing').hidden = !show;
    if (show) {
      // Not "Offline": this browser needs a pairing code before it can reach the Edge.
      const conn = this.#el('connection');
      conn.dataset.status = 'unpaired';
      (conn.querySelector('.conn-label') as HTMLElement).textContent = 'Not paired';
      (conn.querySelector('.conn-detail') as HTMLElement).textContent = 'enter the pairing code below';
      this.#el('offline-note').hidden = true;
    }
    const err = this.#el('pair-error');
    err.hidden = error === undefined;
    err.textContent = error ?? '';
  }

  showOtherTab(show: boolean): void {
    this.#el('other-tab').hidden = !show;
    if (!show) return;
    const conn = this.#el('connection');
    conn.dataset.status = 'other-tab';
    (conn.querySelector('.conn-label') as HTMLElement).textContent = 'Synced by another tab';
    (conn.querySelector('.conn-detail') as HTMLElement).textContent = 'this tab shows the same data, read-only';
  }

  /** Shows the connection state (and the progress bar while catching up); returns the bar's text, if shown. */
  setStatus(status: SyncStatus, progress: SyncProgress, pending: number): string | undefined {
    // Administration needs a live session: list the paired browsers again once there is one.
    if (status === 'live' && this.#status !== 'live' && this.#access?.admin === true) this.refreshPaired();
    this.#status = status;
    if (status === 'live' || status === 'syncing') this.#everOnline = true;
    const conn = this.#el('connection');
    const text = status === 'connecting' && !this.#everOnline ? { label: 'Connecting…', detail: 'reaching the Edge' } : STATUS_TEXT[status];
    conn.dataset.status = status;
    (conn.querySelector('.conn-label') as HTMLElement).textContent = text.label;
    (conn.querySelector('.conn-detail') as HTMLElement).textContent = pending > 0 ? `${text.detail} · ${pending} edit${pending === 1 ? '' : 's'} waiting to be sent` : text.detail;
    const away = !(status === 'live' || status === 'syncing' || status === 'revoked');
    clearTimeout(this.#offlineTimer);
    // Not on every reload: the note shows once the Edge stays out of reach a few seconds.
    if (!away) this.#el('offline-note').hidden = true;
    else if (this.#everOnline) this.#el('offline-note').hidden = false;
    else this.#offlineTimer = setTimeout(() => (this.#el('offline-note').hidden = false), OFFLINE_NOTE_AFTER_MS);
    this.#el('revoked-note').hidden = status !== 'revoked';

    const bar = this.#el('progress');
    if (status === 'syncing') {
      if (this.#syncFrom === undefined || progress.applied === 0) this.#syncFrom = Math.min(progress.cursor, progress.head);
      const from = this.#syncFrom;
      const span = Math.max(1, progress.head - from);
      const done = Math.min(1, Math.max(0, (progress.cursor - from) / span));
      bar.hidden = false;
      (bar.querySelector('.fill') as HTMLElement).style.transform = `scaleX(${Math.round(done * 100) / 100})`;
      const label = `${from === 0 ? 'First sync with the Edge' : 'Catching up with the Edge'}: ${progress.applied} change${progress.applied === 1 ? '' : 's'} received, ${Math.round(done * 100)}% (change ${progress.cursor} of ${progress.head})`;
      (bar.querySelector('.progress-label') as HTMLElement).textContent = label;
      return label;
    }
    bar.hidden = true;
    this.#syncFrom = undefined;
    return undefined;
  }

  /**
   * Draws the rows in and near the viewport, of the window the page holds: the table is
   * virtualized (spacer rows stand for the others, `total` of them in all), and a row is redrawn
   * only when what it shows changed, so the page's work follows what changed and what is visible,
   * not the fleet's size.
   */
  render(window: RowWindow, now: number, counts: RowCounts): void {
    this.#window = window;
    this.#el('empty').hidden = counts.machines > 0;
    this.#el('shown').textContent = window.total === counts.machines ? '' : `${window.total} of ${counts.machines} shown`;
    this.#paint(now);
    this.#summary(counts);
  }

  /** Draws the window of rows around the viewport. */
  #paint(now = Date.now()): void {
    // Another Edge is shown (several Edges in one page): nothing of this one is drawn.
    if (this.#root.hidden) return;
    const { total, from: held, rows } = this.#window;
    const tbody = this.#el('rows');
    if (this.#spacers === undefined) {
      const spacer = (): HTMLTableRowElement => {
        const tr = document.createElement('tr');
        tr.className = 'spacer';
        tr.setAttribute('aria-hidden', 'true');
        tr.insertCell().colSpan = 5;
        return tr;
      };
      this.#spacers = [spacer(), spacer()];
      tbody.append(...this.#spacers);
    }
    const [above, below] = this.#spacers;
    const h = this.#rowHeight;
    const offset = -tbody.getBoundingClientRect().top;
    const visible = Math.ceil(window.innerHeight / h);
    const first = Math.max(0, Math.min(total - visible, Math.floor(offset / h) - OVERSCAN));
    const want = Math.min(total, first + visible + 2 * OVERSCAN);
    this.#actions.range(first, want);
    // Of those, the rows held (the others are drawn once the worker has sent them).
    const from = Math.min(Math.max(first, held), want);
    const last = Math.max(from, Math.min(want, held + rows.length));
    (above.cells[0] as HTMLTableCellElement).style.height = `${from * h}px`;
    const seen = new Set<string>();
    let prev: ChildNode = above;
    // Each frame spends at most FRAME_BUDGET_MS on rows: a row not drawn yet waits for the next
    // frame (the spacer below stands for it), a row drawn already shows its last state one frame
    // longer (a first sync changes every visible row several times a second).
    const started = performance.now();
    const spent = (): boolean => performance.now() - started > FRAME_BUDGET_MS;
    let behind = false;
    let drawn = from;
    for (let n = from; n < last; n++, drawn = n) {
      const page = rows[n - held] as PageRow;
      let entry = this.#rows.get(page.id);
      if (entry === undefined && n > from && spent()) {
        behind = true;
        break;
      }
      seen.add(page.id);
      if (entry === undefined) {
        const tr = document.createElement('tr');
        tr.dataset.worker = page.id;
        entry = { tr, extra: undefined, key: '', json: page.json, row: machineRow(page) };
        this.#rows.set(page.id, entry);
      } else if (entry.json !== page.json) {
        entry.json = page.json;
        entry.row = machineRow(page);
      }
      const row = entry.row;
      const key = this.#rowKey(entry.json, row.id);
      if (entry.key !== key && entry.key !== '' && spent()) behind = true;
      else if (entry.key !== key) {
        this.#fill(entry.tr, row, now);
        entry.key = key;
        entry.extra = this.#conflictRow(entry.extra, row);
      }
      if (entry.tr !== prev.nextSibling) tbody.insertBefore(entry.tr, prev.nextSibling);
      if (entry.extra !== undefined && entry.tr.nextSibling !== entry.extra) tbody.insertBefore(entry.extra, entry.tr.nextSibling);
      prev = entry.extra ?? entry.tr;
      setText(entry.tr.querySelector('.ago') as HTMLElement, ago(row.observed.value?.reportedAt, now));
    }
    (below.cells[0] as HTMLTableCellElement).style.height = `${(total - drawn) * h}px`;
    if (below !== prev.nextSibling) tbody.insertBefore(below, prev.nextSibling);
    for (const [id, entry] of this.#rows) {
      if (seen.has(id)) continue;
      entry.tr.remove();
      entry.extra?.remove();
      // The row being edited keeps its form (and what was typed) while scrolled away.
      if (id !== this.#editing) this.#rows.delete(id);
    }
    if (behind) this.#schedulePaint();
    if (!this.#measured && seen.size > 0) {
      this.#measured = true;
      let total = 0;
      for (const id of seen) total += (this.#rows.get(id) as { tr: HTMLTableRowElement }).tr.offsetHeight;
      this.#rowHeight = Math.max(24, total / seen.size);
    }
  }

  /** Redraws the window at the next frame (on scroll and resize). */
  #schedulePaint(): void {
    if (this.#paintQueued) return;
    this.#paintQueued = true;
    requestAnimationFrame(() => {
      this.#paintQueued = false;
      this.#paint();
    });
  }

  /** Shows what became of an edit (the row redraws with it). */
  setOutcome(outcome: WriteOutcome): void {
    if (outcome.kind === 'superseded') return;
    this.#outcomes.set(outcome.id, outcome);
    this.#redraw(outcome.id);
  }

  /** Shows (or, with `why` undefined, clears) why an action on a machine failed. */
  #fail(id: string, why: string | undefined): void {
    if (why === undefined && !this.#failures.delete(id)) return;
    if (why !== undefined) this.#failures.set(id, why);
    this.#redraw(id);
  }

  /** Redraws one machine's row (and its conflict row) now, if it is drawn. */
  #redraw(id: string): void {
    const entry = this.#rows.get(id);
    if (entry === undefined) return;
    entry.key = '';
    this.#fill(entry.tr, entry.row, Date.now());
    entry.extra = this.#conflictRow(entry.extra, entry.row);
    entry.key = this.#rowKey(entry.json, id);
  }

  /** Shows what this browser may do: Edit only where it may write; the share panel to an admin. True if that changed (redraw the rows). */
  setAccess(access: Access): boolean {
    const was = this.#access;
    if (was !== undefined && was.canWrite === access.canWrite && was.admin === access.admin && was.summary === access.summary && was.readOnly === access.readOnly) return false;
    this.#access = access;
    this.#el('share').hidden = !access.admin;
    if (access.admin) this.refreshPaired();
    const sub = this.#el('access');
    sub.hidden = false;
    sub.textContent = access.readOnly !== undefined ? `Read-only here: ${access.readOnly}.` : `This browser's grant: ${access.summary}${access.canWrite ? '' : ' (view only: editing is off)'}.`;
    // A grant without writes closes an open form. A browser read-only for another reason (revoked
    // while the user typed) keeps it on screen: what was typed is not lost, and Save says why it
    // cannot be sent.
    if (!access.canWrite && access.readOnly === undefined && this.#editing !== undefined) this.#setEditing(undefined);
    return true;
  }

  /** Lists the browsers paired with the Edge (label, grant, when, revoked), each with Revoke. */
  refreshPaired(): void {
    const out = this.#el('paired-list');
    this.#actions.paired().then(
      (list) => {
        const rows = [...list]
          .sort((a, b) => a.pairedAt - b.pairedAt)
          .map(
            (p) => `<tr data-paired="${esc(p.frontendId)}" data-revoked="${p.revoked}"><td>${esc(p.label)}${p.self ? ' <b>(this browser)</b>' : ''}</td><td>${esc(p.grant)}</td><td>${esc(new Date(p.pairedAt).toLocaleString())}</td>
              <td>${p.revoked ? '<span class="error">revoked</span>' : p.self ? '' : `<button type="button" data-revoke="${esc(p.frontendId)}">Revoke</button>`}</td></tr>`,
          );
        out.className = 'small';
        out.innerHTML = `<table class="paired"><thead><tr><th>Label</th><th>Grant</th><th>Paired</th><th></th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
      },
      (e: unknown) => (out.textContent = `Could not list the paired browsers: ${reason(e)}`),
    );
  }

  #onShare(ev: Event): void {
    const grant = (ev.currentTarget as HTMLElement).dataset.grant as 'viewer' | 'operator';
    const out = this.#el('share-result');
    out.hidden = false;
    out.textContent = 'Making a code…';
    this.#actions.share(grant).then(
      ({ code, expiresAt }) => {
        const url = `${location.origin}${location.pathname}#pair=${encodeURIComponent(code)}`;
        this.refreshPaired();
        out.innerHTML = `Code for a ${esc(grant)} (one use, until ${esc(new Date(expiresAt).toLocaleTimeString())}): <code class="share-code">${esc(code)}</code><br>Link: <a class="share-link" href="${esc(url)}">${esc(url)}</a>`;
      },
      (e: unknown) => {
        out.textContent = `Could not make a code: ${reason(e)}`;
      },
    );
  }

  /** What a drawn row shows depends on: its row (as JSON), editing, its last outcome, a failure, the grant. */
  #rowKey(json: string, id: string): string {
    return `${this.#access?.canWrite === false ? 'ro:' : ''}${json}` + (this.#editing === id ? ':editing' : '') + JSON.stringify(this.#outcomes.get(id) ?? null) + (this.#failures.get(id) ?? '');
  }

  /** Refreshes the "last report" times. */
  tick(now = Date.now()): void {
    for (const { tr, row } of this.#rows.values()) setText(tr.querySelector('.ago') as HTMLElement, ago(row.observed.value?.reportedAt, now));
  }

  #summary(counts: RowCounts): void {
    if (counts.machines === 0) {
      // Not "0 machines · 0 running": nothing has arrived yet, or this Edge has no machines.
      this.#el('summary').innerHTML = this.#status === 'live' ? 'No machines on this Edge.' : '<span class="muted">Waiting for the machines…</span>';
      return;
    }
    const { running, failed, moving, pending, conflicts, stale } = counts;
    const parts = [`<b>${counts.machines}</b> machines`, counts.loading > 0 ? '<span class="muted">loading their reports…</span>' : `<b>${running}</b> running`, `<b class="${failed > 0 ? 'bad' : ''}">${failed}</b> failed`, `<b>${moving}</b> not yet at their desired state`];
    if (pending > 0) parts.push(`<b class="warn">${pending}</b> edit${pending === 1 ? '' : 's'} pending`);
    if (conflicts > 0) parts.push(`<b class="bad">${conflicts}</b> conflict${conflicts === 1 ? '' : 's'} to resolve`);
    if (stale > 0) parts.push(`<b class="warn">${stale}</b> stale (no report for 30 s)`);
    this.#el('summary').innerHTML = parts.join(' · ');
  }

  /**
   * Draws a row cell by cell, touching only the cells whose content changed: a machine reports
   * every second, and an open edit form must keep what the user is typing.
   */
  #fill(tr: HTMLTableRowElement, row: MachineRow, now: number): void {
    const i = row.identity.value;
    const d = row.desired.value;
    const o = row.observed.value;
    tr.className = [o?.state === 'failed' ? 'failed' : '', row.desired.status === 'conflict' ? 'conflicted' : ''].join(' ').trim();
    tr.dataset.desiredVersion = String(row.desired.edgeVersion);
    while (tr.cells.length < 5) tr.insertCell();
    const [who, desired, observed, sync, last] = Array.from(tr.cells);
    const editing = this.#editing === row.id && d !== undefined;
    const set = (td: HTMLTableCellElement | undefined, className: string, html: string, key = html): void => {
      if (td === undefined || this.#cellKeys.get(td) === key) return;
      td.className = className;
      td.innerHTML = html;
      this.#cellKeys.set(td, key);
    };
    set(
      who,
      'who',
      `<div class="name"><button type="button" class="link" data-action="detail" data-id="${esc(row.id)}" title="details and history">${esc(i?.name ?? row.id)}</button></div>
       <div class="muted small">${esc(row.id)}${i ? ` · ${esc(i.kind)} · ${esc(i.line)} · ${esc(i.serial)}` : ''}</div>`,
    );
    // The form keeps the base it opened with: live updates while it is open do not move it.
    if (editing) set(desired, 'desired', this.#editForm(row.id, d, row.desired.edgeVersion), `editing:${row.id}`);
    else {
      const outcome = row.desired.status === 'pending' ? '' : outcomeText(this.#outcomes.get(row.id));
      set(
        desired,
        'desired',
        `${desiredText(d)}${row.desired.status === 'pending' ? ' <span class="chip chip-pending">◔ pending</span>' : ''}
         ${this.#access?.canWrite === false ? '' : `<button type="button" class="edit" data-action="edit" data-id="${esc(row.id)}" ${d === undefined || row.desired.status === 'conflict' ? 'disabled' : ''}>Edit</button>`}${outcome}${failureText(row.id, this.#failures.get(row.id))}`,
      );
    }
    set(observed, 'observed', observedText(o, row.differs));
    set(
      sync,
      'sync',
      (['identity', 'desired', 'observed'] as const)
        .map((k) => `<span class="chip chip-${row[k].status}" data-doc="${k}" data-status="${row[k].status}" title="${k}: ${row[k].status}">${DOC_ICON[row[k].status]} ${k}</span>`)
        .join(' '),
    );
    set(last, 'ago muted', ago(o?.reportedAt, now));
  }

  #editForm(id: string, d: MachineDesired, base: number): string {
    const options = DESIRED_STATES.map((s) => `<option value="${s}" ${s === d.state ? 'selected' : ''}>${s}</option>`).join('');
    return `<form class="edit-form" data-id="${esc(id)}" data-base="${esc(base)}">
      <select name="state" aria-label="desired state">${options}</select>
      <input name="speed" type="number" min="0" max="${MAX_SPEED}" step="1" value="${esc(d.speed)}" aria-label="desired speed (rpm)" /> rpm
      <button type="submit" class="primary">Save</button> <button type="button" data-action="cancel">Cancel</button></form>`;
  }

  #conflictRow(existing: HTMLTableRowElement | undefined, row: MachineRow): HTMLTableRowElement | undefined {
    if (row.conflict === undefined) {
      existing?.remove();
      return undefined;
    }
    const tr = existing ?? document.createElement('tr');
    tr.className = 'conflict-row';
    tr.dataset.conflict = row.id;
    const mine = row.conflict.value as unknown as MachineDesired;
    // A read-only tab or grant shows the conflict but cannot resolve it.
    const off = this.#access?.canWrite === false ? ' disabled' : '';
    tr.innerHTML = `<td colspan="5"><div class="conflict">
      <b>⚠ Conflict on ${esc(row.identity.value?.name ?? row.id)}'s desired state.</b>
      ${row.conflict.code === 'CONFLICT' ? 'The Edge changed it after the version your edit was based on, so your edit was not applied.' : `The Edge refused your edit (${esc(row.conflict.code)}: ${esc(row.conflict.message)}).`}
      <div class="choices">
        <div class="choice"><div class="muted small">Your edit</div>${desiredText(mine)}
          <button type="button" class="primary" data-action="mine" data-id="${esc(row.id)}"${off}>Keep my edit</button></div>
        <div class="choice"><div class="muted small">On the Edge now</div>${desiredText(row.desired.value)}
          <button type="button" data-action="theirs" data-id="${esc(row.id)}"${off}>Keep the Edge's value</button></div>
      </div></div></td>`;
    return tr;
  }

  #onClick(ev: Event): void {
    const button = (ev.target as HTMLElement).closest('button[data-action]') as HTMLButtonElement | null;
    if (button === null) return;
    const action = button.dataset.action;
    const id = button.dataset.id ?? (button.closest('form') as HTMLFormElement | null)?.dataset.id;
    if (action === 'detail' && id !== undefined) this.#actions.detail(id);
    else if (action === 'edit' && id !== undefined) this.#setEditing(id);
    else if (action === 'cancel') this.#setEditing(undefined);
    else if (action === 'dismiss' && id !== undefined) this.#fail(id, undefined);
    else if ((action === 'mine' || action === 'theirs') && id !== undefined) {
      button.disabled = true;
      this.#actions.resolve(id, action).then(
        () => this.#fail(id, undefined),
        (e: unknown) => this.#fail(id, `Could not resolve: ${reason(e)}`),
      );
    }
  }

  #onSubmit(ev: Event): void {
    const form = ev.target as HTMLFormElement;
    if (!form.classList.contains('edit-form')) return;
    ev.preventDefault();
    const id = form.dataset.id as string;
    const data = new FormData(form);
    const speed = Math.max(0, Math.min(MAX_SPEED, Math.round(Number(data.get('speed')))));
    const desired: MachineDesired = { state: data.get('state') === 'stopped' ? 'stopped' : 'running', speed: Number.isFinite(speed) ? speed : 0 };
    const base = Number(form.dataset.base);
    this.#setEditing(undefined);
    const what = desired.state === 'running' ? `running at ${desired.speed} rpm` : 'stopped';
    this.#actions.save(id, desired, Number.isSafeInteger(base) && base >= 0 ? base : 0).then(
      () => this.#fail(id, undefined),
      (e: unknown) => this.#fail(id, `Could not save (${what}): ${reason(e)}`),
    );
  }

  #setEditing(id: string | undefined): void {
    const before = this.#editing;
    this.#editing = id;
    for (const key of [before, id]) if (key !== undefined) this.#redraw(key);
  }

  get status(): SyncStatus {
    return this.#status;
  }
}
