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

/** The row of machine `id` from its three replica documents (any may be missing). */
export function rowOf(id: string, identity: Doc | undefined, desired: Doc | undefined, observed: Doc | undefined): MachineRow {
  const row = { id, identity: view<MachineIdentity>(identity), desired: view<MachineDesired>(desired), observed: view<MachineObserved>(observed) };
  const conflict = desired?._sync_status === 'conflict' ? (desired._conflict as ConflictInfo | undefined) : undefined;
  return { ...row, conflict, differs: differences(row.desired.value, row.observed.value) };
}

export const ROLES = ['identity', 'desired', 'observed'] as const;
export type Role = (typeof ROLES)[number];
/** The replica collections the rows are made of. */
export const MACHINE_COLLECTIONS: readonly string[] = ROLES.map((role) => `${WORKER_TYPE}_${role}`);

/**
 * The replica's machine documents, held in memory and kept current from the replica's change
 * feed, so a change costs the rows it touches, not a read of the whole replica.
 */
export class MachineDocs {
  readonly #docs: Record<Role, Map<string, Doc>> = { identity: new Map(), desired: new Map(), observed: new Map() };

  /** Every document of the replica (the first read, and again after the feed's cursor was reset). */
  async loadAll(store: Store): Promise<void> {
    const all = await Promise.all(ROLES.map((role) => store.find(`${WORKER_TYPE}_${role}`)));
    ROLES.forEach((role, k) => {
      const m = this.#docs[role];
      m.clear();
      for (const d of all[k] ?? []) m.set(d.id, d);
    });
  }

  /** Applies one change of the feed; returns the machine id it touched. */
  apply(collection: string, id: string, deleted: boolean, doc: Doc): string {
    const role = collection.slice(WORKER_TYPE.length + 1) as Role;
    const m = this.#docs[role];
    if (m !== undefined) {
      if (deleted) m.delete(id);
      else m.set(id, doc);
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
    return i === undefined && d === undefined && o === undefined ? undefined : rowOf(id, i, d, o);
  }
}
