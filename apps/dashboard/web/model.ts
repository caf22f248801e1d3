/**
 * Reads the replica into one row per machine: its three documents, each with its sync status,
 * and which desired fields the observed state does not match yet.
 */
import type { Doc, Store } from '@cse/core';
import type { ConflictInfo } from '@cse/sync';
import type { MachineDesired, MachineIdentity, MachineObserved } from '../shared/machines.js';
import { WORKER_TYPE } from '../shared/machines.js';

export type DocStatus = 'synced' | 'pending' | 'conflict' | 'missing';

export interface DocView<T> {
  readonly value: T | undefined;
  readonly status: DocStatus;
  /** The Edge version this replica's copy is (0: not on the Edge yet): an edit form passes it as its base. */
  readonly edgeVersion: number;
}

export interface MachineRow {
  readonly id: string;
  readonly identity: DocView<MachineIdentity>;
  readonly desired: DocView<MachineDesired>;
  readonly observed: DocView<MachineObserved>;
  /** On a conflict: the edit the Edge refused (the desired value shown is the Edge's). */
  readonly conflict: ConflictInfo | undefined;
  /** Desired fields the observed state does not match. */
  readonly differs: readonly (keyof MachineDesired)[];
}

function userFields<T>(doc: Doc | undefined): T | undefined {
  if (doc === undefined) return undefined;
  return Object.fromEntries(Object.entries(doc).filter(([k]) => !k.startsWith('_'))) as T;
}

function view<T>(doc: Doc | undefined): DocView<T> {
  if (doc === undefined) return { value: undefined, status: 'missing', edgeVersion: 0 };
  const s = doc._sync_status;
  const edgeVersion = typeof doc._edge_version === 'number' ? doc._edge_version : 0;
  return { value: userFields<T>(doc), status: s === 'pending' || s === 'conflict' ? s : 'synced', edgeVersion };
}

/** Desired fields the observed state differs from (a stopped machine's speed is 0 by definition). */
export function differences(d: MachineDesired | undefined, o: MachineObserved | undefined): (keyof MachineDesired)[] {
  if (d === undefined || o === undefined) return [];
  const out: (keyof MachineDesired)[] = [];
  if (d.state !== o.state) out.push('state');
  const speed = d.state === 'running' ? d.speed : 0;
  if (speed !== o.speed) out.push('speed');
  return out;
}

/** What the rows need of one replica document: its view, and on a Desired conflict the refused edit. */
interface Held {
  readonly view: DocView<unknown>;
  readonly conflict?: ConflictInfo;
}

const MISSING: DocView<never> = Object.freeze({ value: undefined, status: 'missing', edgeVersion: 0 });

function hold(doc: Doc): Held {
  const conflict = doc._sync_status === 'conflict' ? (doc._conflict as ConflictInfo | undefined) : undefined;
  return conflict === undefined ? { view: view(doc) } : { view: view(doc), conflict };
}

function rowOfHeld(id: string, identity: Held | undefined, desired: Held | undefined, observed: Held | undefined): MachineRow {
  const d = (desired?.view ?? MISSING) as DocView<MachineDesired>;
  const o = (observed?.view ?? MISSING) as DocView<MachineObserved>;
  return { id, identity: (identity?.view ?? MISSING) as DocView<MachineIdentity>, desired: d, observed: o, conflict: desired?.conflict, differs: differences(d.value, o.value) };
}

/** The row of machine `id` from its three replica documents (any may be missing). */
export function rowOf(id: string, identity: Doc | undefined, desired: Doc | undefined, observed: Doc | undefined): MachineRow {
  const h = (doc: Doc | undefined): Held | undefined => (doc === undefined ? undefined : hold(doc));
  return rowOfHeld(id, h(identity), h(desired), h(observed));
}

const sameValue = (a: unknown, b: unknown): boolean => {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => (a as Record<string, unknown>)[k] === (b as Record<string, unknown>)[k]);
};
const sameView = (a: DocView<unknown>, b: DocView<unknown>): boolean => a === b || (a.status === b.status && a.edgeVersion === b.edgeVersion && sameValue(a.value, b.value));

/** Whether the page would show `a` and `b` the same (a field holding an object counts as changed unless it is the same object). */
export function sameRow(a: MachineRow, b: MachineRow): boolean {
  return a.id === b.id && sameView(a.identity, b.identity) && sameView(a.desired, b.desired) && sameView(a.observed, b.observed) && a.conflict === b.conflict && a.differs.join() === b.differs.join();
}

export const ROLES = ['identity', 'desired', 'observed'] as const;
export type Role = (typeof ROLES)[number];
/** The replica collections the rows are made of. */
export const MACHINE_COLLECTIONS: readonly string[] = ROLES.map((role) => `${WORKER_TYPE}_${role}`);

/**
 * What the rows need of the replica's machine documents (each document's view, not the document:
 * its sync fields stay in the replica), held in memory and kept current from the replica's change
 * feed, so a change costs the rows it touches, not a read of the whole replica.
 */
export class MachineDocs {
  readonly #docs: Record<Role, Map<string, Held>> = { identity: new Map(), desired: new Map(), observed: new Map() };

  /** Every document of the replica (the first read, and again after the feed's cursor was reset). */
  async loadAll(store: Store): Promise<void> {
    const all = await Promise.all(ROLES.map((role) => store.find(`${WORKER_TYPE}_${role}`)));
    ROLES.forEach((role, k) => {
      const m = this.#docs[role];
      m.clear();
      for (const d of all[k] ?? []) m.set(d.id, hold(d));
    });
  }

  /** Applies one change of the feed; returns the machine id it touched. */
  apply(collection: string, id: string, deleted: boolean, doc: Doc): string {
    const role = collection.slice(WORKER_TYPE.length + 1) as Role;
    const m = this.#docs[role];
    if (m !== undefined) {
      if (deleted) m.delete(id);
      else m.set(id, hold(doc));
    }
    return id;
  }

  /** Every machine id with at least one document, sorted. */
  ids(): string[] {
    return [...new Set(ROLES.flatMap((role) => [...this.#docs[role].keys()]))].sort();
  }

  /** The row of `id`, or undefined when the replica holds none of its documents. */
  row(id: string): MachineRow | undefined {
    const [i, d, o] = ROLES.map((role) => this.#docs[role].get(id));
    return i === undefined && d === undefined && o === undefined ? undefined : rowOfHeld(id, i, d, o);
  }
}

/** A page row's flags (`PageRow.flags`). */
export const FLAG = { running: 1, failed: 2, differs: 4, pending: 8, conflict: 16, loading: 32 } as const;

/**
 * A machine row as the page holds it: its `MachineRow` as JSON, parsed only to draw it (the rows
 * near the viewport) or to show its detail, and the few things the page counts, orders and finds
 * by. A `MachineRow` as the worker's message delivers it is some twenty objects; with 33,334
 * machines every one survived each of the page's scavenges (20-49 ms pauses in a first sync of
 * 100,000 documents). This is five.
 */
export interface PageRow {
  readonly id: string;
  readonly json: string;
  /** `FLAG` bits. */
  readonly flags: number;
  /** When the machine last reported (ms since the epoch); NaN when it never did. */
  readonly at: number;
  /** Id, name, serial and line, lower case, one per line: what a search looks in. */
  readonly search: string;
}

export function pageRow(row: MachineRow): PageRow {
  const state = row.observed.value?.state;
  const flags =
    (state === 'running' ? FLAG.running : 0) |
    (state === 'failed' ? FLAG.failed : 0) |
    (row.differs.length > 0 ? FLAG.differs : 0) |
    (row.desired.status === 'pending' ? FLAG.pending : 0) |
    (row.desired.status === 'conflict' ? FLAG.conflict : 0) |
    (row.observed.value === undefined ? FLAG.loading : 0);
  const reported = row.observed.value?.reportedAt;
  const i = row.identity.value;
  const search = [row.id, i?.name, i?.serial, i?.line]
    .filter((f): f is string => typeof f === 'string')
    .map((f) => f.toLowerCase())
    .join('\n');
  return { id: row.id, json: JSON.stringify(row), flags, at: reported === undefined ? NaN : Date.parse(reported), search };
}

/** The `MachineRow` a page row holds. */
export function machineRow(row: PageRow): MachineRow {
  return JSON.parse(row.json) as MachineRow;
}