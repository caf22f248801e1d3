/**
 * What the operator sees of the fleet: search (name, serial, line, id), a status filter, and the
 * order of the table: failed and conflicted machines pinned to the top, then natural order of
 * the machine id (m2 before m10). Pure functions over the page's compact rows.
 */
import { STALE_AFTER_MS } from '../shared/machines.js';
import type { PageRow } from './model.js';
import { FLAG } from './model.js';

export type StatusFilter = 'all' | 'failed' | 'not-at-desired' | 'conflict' | 'pending' | 'stale';

export const FILTERS: readonly { value: StatusFilter; label: string }[] = [
  { value: 'all', label: 'All machines' },
  { value: 'failed', label: 'Failed' },
  { value: 'not-at-desired', label: 'Not at desired state' },
  { value: 'conflict', label: 'Conflict' },
  { value: 'pending', label: 'Edit pending' },
  { value: 'stale', label: 'Stale (no report)' },
];

const natural = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });

/** Natural order: m2 before m10. */
export function compareNatural(a: string, b: string): number {
  const ia = lettersThenDigits(a);
  const ib = ia < 0 ? -1 : lettersThenDigits(b);
  if (ia > 0 && ib > 0) return compareLettersThenDigits(a, ia, b, ib);
  return natural.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0);
}

/** Where the digits of an id such as `m123` (lowercase a-z, then 0-9) start; -1 for any other id. */
function lettersThenDigits(s: string): number {
  let i = 0;
  while (i < s.length && s.charCodeAt(i) >= 97 && s.charCodeAt(i) <= 122) i++;
  if (i === 0 || i === s.length) return -1;
  for (let j = i; j < s.length; j++) if (s.charCodeAt(j) < 48 || s.charCodeAt(j) > 57) return -1;
  return i;
}

/**
 * The collator's order for two ids of that form, without the collator (a comparison through it
 * costs microseconds, and the table's order takes thousands): letters alphabetically (a digit
 * sorts before any letter, so the shorter run of letters first), then the numbers' values, then,
 * for equal values such as m07 and m7, the plain order. The find test checks it against the
 * collator.
 */
function compareLettersThenDigits(a: string, ia: number, b: string, ib: number): number {
  for (let k = 0; k < Math.min(ia, ib); k++) {
    const d = a.charCodeAt(k) - b.charCodeAt(k);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  if (ia !== ib) return ia < ib ? -1 : 1;
  let sa = ia;
  while (sa < a.length - 1 && a.charCodeAt(sa) === 48) sa++;
  let sb = ib;
  while (sb < b.length - 1 && b.charCodeAt(sb) === 48) sb++;
  if (a.length - sa !== b.length - sb) return a.length - sa < b.length - sb ? -1 : 1;
  for (let k = 0; k < a.length - sa; k++) {
    const d = a.charCodeAt(sa + k) - b.charCodeAt(sb + k);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

/** No report (change or heartbeat) for three heartbeats. */
export function isStale(row: PageRow, now: number): boolean {
  return now - row.at > STALE_AFTER_MS;
}

export function matchesFilter(row: PageRow, filter: StatusFilter, now: number): boolean {
  switch (filter) {
    case 'all':
      return true;
    case 'failed':
      return (row.flags & FLAG.failed) !== 0;
    case 'not-at-desired':
      return (row.flags & FLAG.differs) !== 0;
    case 'conflict':
      return (row.flags & FLAG.conflict) !== 0;
    case 'pending':
      return (row.flags & FLAG.pending) !== 0;
    case 'stale':
      return isStale(row, now);
  }
}

/** True if the query (case-insensitive, spaces collapsed) is part of the machine's id, name, serial or line. */
export function matchesSearch(row: PageRow, query: string): boolean {
  const q = query.trim().toLowerCase().replace(/\s+/g, ' ');
  // `search` holds the four fields one per line; a query holds no line break, so it matches within one.
  return q === '' || row.search.includes(q);
}

/** Failed or conflicted: pinned to the top of the default view. */
export function isPinned(row: PageRow): boolean {
  return (row.flags & (FLAG.failed | FLAG.conflict)) !== 0;
}

/** The table's order: failed and conflicted first (the default view), then natural order of the id. */
export function compareRows(a: PageRow, b: PageRow): number {
  return (isPinned(a) ? 0 : 1) - (isPinned(b) ? 0 : 1) || compareNatural(a.id, b.id);
}

/** The rows the table shows, in its order. */
export function selectRows(rows: Iterable<PageRow>, query: string, filter: StatusFilter, now: number): PageRow[] {
  const out: PageRow[] = [];
  for (const row of rows) if (matchesFilter(row, filter, now) && matchesSearch(row, query)) out.push(row);
  return out.sort(compareRows);
}
