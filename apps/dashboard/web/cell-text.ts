/**
 * What a machine's row says, as HTML: its desired and observed states, the outcome of the last
 * edit made here, why an action failed, the sync status icons and the time since its last report.
 */
import type { WriteOutcome } from '@cse/sync';
import type { MachineDesired, MachineObserved } from '../shared/machines.js';
import { temperatureOf } from '../shared/machines.js';
import type { DocStatus } from './model.js';

/** Escapes a value for HTML text and attribute values. */
export const esc = (s: unknown): string => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The line under a machine's desired state telling what became of the last edit made here. */
export function outcomeText(o: WriteOutcome | undefined): string {
  if (o === undefined || o.kind === 'superseded') return '';
  if (o.kind === 'applied') return `<div class="outcome outcome-applied" data-outcome="applied">✓ your edit is on the Edge (version ${esc(o.version)})</div>`;
  if (o.kind === 'conflict') return `<div class="outcome outcome-conflict" data-outcome="conflict">⚠ your edit was not applied: the Edge's value changed (now version ${esc(o.theirsVersion)})</div>`;
  return `<div class="outcome outcome-refused" data-outcome="refused">✕ the Edge refused your edit (${esc(o.code)}): ${esc(o.message)}</div>`;
}

/** Why a save or a resolve failed, on the machine's row (no browser dialog), with a Dismiss button. */
export function failureText(id: string, why: string | undefined): string {
  if (why === undefined) return '';
  return `<div class="failure" role="alert" data-failure>${esc(why)} <button type="button" class="link" data-action="dismiss" data-id="${esc(id)}">Dismiss</button></div>`;
}

/** The icon of a document's sync status. */
export const DOC_ICON: Record<DocStatus, string> = { synced: '✓', pending: '◔', conflict: '⚠', missing: '–' };

/** The time since a report, as a person reads it. */
export function ago(iso: string | undefined, now: number): string {
  if (iso === undefined) return '–';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 2) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  return new Date(iso).toLocaleString();
}

/** The desired state (a stopped machine's speed shown as the speed it runs at). */
export function desiredText(d: MachineDesired | undefined): string {
  if (d === undefined) return '<span class="muted">none</span>';
  const speed = d.state === 'running' ? `<span class="num">${esc(d.speed)} rpm</span>` : `<span class="muted small">(${esc(d.speed)} rpm when running)</span>`;
  return `<span class="state state-${esc(d.state)}">${esc(d.state)}</span> ${speed}`;
}

/** The observed state, each field that differs from the desired one marked. */
export function observedText(o: MachineObserved | undefined, differs: readonly string[]): string {
  if (o === undefined) return '<span class="muted">no report yet</span>';
  const mark = (field: string, html: string): string => (differs.includes(field) ? `<mark class="diff" title="differs from desired">${html}</mark>` : html);
  const state = `<span class="state state-${esc(o.state)}">${esc(o.state)}</span>`;
  const error = o.error === undefined ? '' : ` <span class="error">${esc(o.error)}</span>`;
  return `${mark('state', state)}${error} ${mark('speed', `<span class="num">${esc(o.speed)} rpm</span>`)} <span class="muted num">${esc(temperatureOf(o))} °C</span>`;
}
