/**
 * The fleet overview: one line per Edge this page follows (its connection state and counts:
 * machines, failed, not at desired state, conflicts), a button to drill into one, and "Add an
 * Edge", which pairs another Edge with its code (each Edge gets its own replica and sync worker).
 */
import type { SyncStatus } from '@cse/sync';
import type { EdgeCounts } from './edge-page.js';
import type { Role } from './worker-protocol.js';
import { esc } from './cell-text.js';

export interface FleetEdge {
  readonly edgeId: string;
  readonly name: string;
  readonly status: SyncStatus;
  readonly role: Role | undefined;
  readonly counts: EdgeCounts;
}

export interface FleetActions {
  select(edgeId: string): void;
  /** Adds (or pairs) the Edge a pairing code is for. */
  add(code: string): Promise<void>;
}


const STATUS: Record<SyncStatus, string> = { live: 'Online', syncing: 'Online, catching up', connecting: 'Reconnecting…', offline: 'Offline', stopped: 'Stopped', revoked: 'Revoked' };

/** The Edge id a pairing code is for (`cse1.<edge id>.<secret>`), or undefined if it is not one. */
export function codeEdgeId(code: string): string | undefined {
  const parts = code.trim().split('.');
  return parts.length === 3 && parts[0] === 'cse1' && parts[1] !== '' ? parts[1] : undefined;
}

export class FleetView {
  readonly element: HTMLElement;
  readonly #actions: FleetActions;
  readonly #body: HTMLElement;
  #queued = false;
  #edges: () => readonly FleetEdge[] = () => [];
  #selected: string | undefined;

  constructor(actions: FleetActions) {
    this.#actions = actions;
    const el = document.createElement('section');
    el.id = 'fleet';
    el.className = 'panel';
    el.innerHTML = `<h2>Your Edges</h2>
      <div class="fleet-wrap"><table class="fleet"><thead><tr><th>Edge</th><th>Connection</th><th>Machines</th><th>Failed</th><th>Not at desired state</th><th>Conflicts</th><th></th></tr></thead><tbody></tbody></table></div>
      <form class="add-edge" id="add-edge"><label for="add-edge-code">Add an Edge:</label>
        <input id="add-edge-code" autocomplete="off" spellcheck="false" placeholder="its pairing code, cse1.…" />
        <button type="submit">Add</button><span id="add-edge-result" class="small" role="status"></span></form>`;
    this.element = el;
    this.#body = el.querySelector('tbody') as HTMLElement;
    this.#body.addEventListener('click', (ev) => {
      const id = ((ev.target as HTMLElement).closest('button[data-open]') as HTMLButtonElement | null)?.dataset.open;
      if (id !== undefined) this.#actions.select(id);
    });
    el.querySelector('form')?.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.add((el.querySelector('#add-edge-code') as HTMLInputElement).value);
    });
  }

  /** Adds the Edge of `code` (the form, or a link opened in this tab), saying how it went. */
  add(code: string): void {
    const el = this.element;
    const input = el.querySelector('#add-edge-code') as HTMLInputElement;
    const out = el.querySelector('#add-edge-result') as HTMLElement;
    out.className = 'small';
    out.textContent = 'Pairing…';
    this.#actions.add(code).then(
      () => {
        input.value = '';
        out.textContent = 'Added.';
      },
      (e: unknown) => {
        out.className = 'small error';
        out.textContent = e instanceof Error ? e.message : String(e);
      },
    );
  }

  /** Where the lines come from (read again at each redraw). */
  source(edges: () => readonly FleetEdge[]): void {
    this.#edges = edges;
    this.update();
  }

  select(edgeId: string): void {
    this.#selected = edgeId;
    this.update();
  }

  /** Redraws at most every 500 ms (the counts follow every change of every Edge). */
  update(): void {
    if (this.#queued) return;
    this.#queued = true;
    setTimeout(() => {
      this.#queued = false;
      this.#draw();
    }, 500);
  }

  /**
   * Updates the lines in place: a cell is rewritten only when what it shows changed, so the
   * "Open" button under the pointer is not replaced while counts tick (a click whose press and
   * release straddled a redraw of the whole table was lost).
   */
  #draw(): void {
    const old = new Map(Array.from(this.#body.querySelectorAll<HTMLTableRowElement>('tr[data-edge]')).map((tr) => [tr.dataset.edge as string, tr]));
    let at = 0;
    for (const e of this.#edges()) {
      const c = e.counts;
      const status = e.role === 'unpaired' ? 'Not paired: enter its code' : STATUS[e.status];
      const selected = e.edgeId === this.#selected;
      const cells = [
        `<b>${esc(e.name)}</b> <span class="muted small">${esc(e.edgeId.slice(0, 8))}…</span>`,
        esc(status),
        String(c.machines),
        String(c.failed),
        String(c.notAtDesired),
        String(c.conflicts),
        selected ? '<span class="muted small">shown below</span>' : `<button type="button" data-open="${esc(e.edgeId)}">Open</button>`,
      ];
      let tr = old.get(e.edgeId);
      old.delete(e.edgeId);
      if (tr === undefined) {
        tr = document.createElement('tr');
        tr.dataset.edge = e.edgeId;
        tr.innerHTML = `<td></td><td></td><td class="num" data-count="machines"></td><td class="num" data-count="failed"></td><td class="num" data-count="not-at-desired"></td><td class="num" data-count="conflicts"></td><td></td>`;
      }
      tr.dataset.status = e.role === 'unpaired' ? 'unpaired' : e.status;
      tr.dataset.selected = String(selected);
      cells.forEach((html, k) => {
        const td = (tr as HTMLTableRowElement).cells[k] as HTMLTableCellElement;
        if (td.dataset.html !== html) {
          td.innerHTML = html;
          td.dataset.html = html;
        }
      });
      (tr.cells[3] as HTMLTableCellElement).classList.toggle('bad', c.failed > 0);
      (tr.cells[5] as HTMLTableCellElement).classList.toggle('bad', c.conflicts > 0);
      if (this.#body.children[at] !== tr) this.#body.insertBefore(tr, this.#body.children[at] ?? null);
      at++;
    }
    for (const tr of old.values()) tr.remove();
  }
}
