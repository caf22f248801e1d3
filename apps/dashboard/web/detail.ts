/**
 * A machine's detail view: its identity, desired and observed states in full (each document's
 * sync status and Edge version), and the history of its Desired changes (when, which version, by
 * which Frontend, by its label) from the Edge's record of applied writes, read through the sync
 * channel (`admin('history')`, answered to any grant that reads the machines' Desired state).
 * Live: a change of the machine redraws it while it is open.
 */
import type { AppliedWrite } from '@cse/sync';
import type { DocView, MachineRow } from './model.js';
import { esc } from './cell-text.js';

export interface DetailActions {
  /** The Edge's record of the writes applied to this machine's Desired state, newest first. */
  history(id: string): Promise<readonly AppliedWrite[]>;
}


function fields(doc: DocView<object>, title: string, role: string): string {
  const rows =
    doc.value === undefined
      ? '<tr><td colspan="2" class="muted">none yet</td></tr>'
      : Object.entries(doc.value)
          .filter(([k]) => k !== 'id')
          .map(([k, v]) => `<tr><th>${esc(k)}</th><td class="num">${esc(typeof v === 'object' ? JSON.stringify(v) : v)}</td></tr>`)
          .join('');
  return `<div class="detail-doc" data-doc="${role}"><h3>${esc(title)} <span class="chip chip-${doc.status}">${esc(doc.status)}</span>
    <span class="muted small">Edge version ${doc.edgeVersion}</span></h3><table>${rows}</table></div>`;
}

export class DetailView {
  readonly element: HTMLElement;
  readonly #actions: DetailActions;
  #row: MachineRow | undefined;
  #historyFor: string | undefined;

  constructor(actions: DetailActions) {
    this.#actions = actions;
    this.element = document.createElement('section');
    this.element.className = 'panel detail';
    this.element.hidden = true;
    this.element.setAttribute('role', 'dialog');
    this.element.setAttribute('aria-label', 'machine details');
    this.element.addEventListener('click', (ev) => {
      const action = ((ev.target as HTMLElement).closest('button[data-action]') as HTMLButtonElement | null)?.dataset.action;
      if (action === 'close-detail') this.close();
      else if (action === 'refresh-history' && this.#row !== undefined) this.#loadHistory(this.#row.id);
    });
  }

  /** Shows `row` (and asks the Edge for its history). */
  open(row: MachineRow): void {
    this.#row = row;
    this.element.hidden = false;
    this.element.dataset.machine = row.id;
    this.#draw();
    this.#loadHistory(row.id);
  }

  close(): void {
    this.#row = undefined;
    this.#historyFor = undefined;
    this.element.hidden = true;
    delete this.element.dataset.machine;
  }

  /** The machine whose detail is open, if any. */
  get shownId(): string | undefined {
    return this.#row?.id;
  }

  /** The open machine's row changed: redrawn; a new Desired version brings its history again. */
  update(row: MachineRow): void {
    const open = this.#row;
    if (open === undefined || row.id !== open.id) return;
    this.#row = row;
    this.#draw();
    if (row.desired.edgeVersion !== open.desired.edgeVersion) this.#loadHistory(row.id);
  }

  #draw(): void {
    const row = this.#row as MachineRow;
    const history = this.element.querySelector('.detail-history')?.outerHTML ?? '<div class="detail-history muted small">Asking the Edge…</div>';
    this.element.innerHTML = `<div class="detail-head"><h2>${esc(row.identity.value?.name ?? row.id)} <span class="muted small">${esc(row.id)}</span></h2>
      <button type="button" data-action="close-detail">Close</button></div>
      <div class="detail-docs">${fields(row.identity, 'Identity', 'identity')}${fields(row.desired, 'Desired (you)', 'desired')}${fields(row.observed, 'Observed (machine)', 'observed')}</div>
      <h3>Changes of the desired state <button type="button" data-action="refresh-history" class="small">Refresh</button></h3>${history}`;
  }

  #loadHistory(id: string): void {
    this.#historyFor = id;
    this.#actions.history(id).then(
      (list) => {
        if (this.#historyFor !== id) return;
        this.#setHistory(
          list.length === 0
            ? '<p class="muted small">No change from a dashboard yet (the Edge records the writes it applies from Frontends; changes at the machine\'s HMI are not in it).</p>'
            : `<table class="history"><thead><tr><th>Version</th><th>When</th><th>By</th></tr></thead><tbody>${list
                .map((h) => `<tr data-version="${h.version}"><td class="num">${h.version}</td><td>${esc(h.at === '' ? '–' : new Date(h.at).toLocaleString())}</td><td>${esc(h.label ?? `${h.frontendId.slice(0, 8)}…`)}</td></tr>`)
                .join('')}</tbody></table>`,
        );
      },
      (e: unknown) => {
        if (this.#historyFor === id) this.#setHistory(`<p class="error small">Could not read the history: ${esc(e instanceof Error ? e.message : String(e))}</p>`);
      },
    );
  }

  #setHistory(html: string): void {
    const el = this.element.querySelector('.detail-history');
    if (el === null) return;
    el.className = 'detail-history';
    el.setAttribute('data-loaded', 'true');
    el.innerHTML = html;
  }
}
