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

export async function loadRows(store: Store): Promise<MachineRow[]> {
  const [identities, desired, observed] = await Promise.all(['identity', 'desired', 'observed'].map((role) => store.find(`${WORKER_TYPE}_${role}`)));
  const by = (docs: Doc[] | undefined): Map<string, Doc> => new Map((docs ?? []).map((d) => [d.id, d]));
  const [i, d, o] = [by(identities), by(desired), by(observed)];
  const ids = [...new Set([...i.keys(), ...d.keys(), ...o.keys()])].sort();
  return ids.map((id) => {
    const desiredDoc = d.get(id);
    const row = { id, identity: view<MachineIdentity>(i.get(id)), desired: view<MachineDesired>(desiredDoc), observed: view<MachineObserved>(o.get(id)) };
    const conflict = desiredDoc?._sync_status === 'conflict' ? (desiredDoc._conflict as ConflictInfo | undefined) : undefined;
    return { ...row, conflict, differs: differences(row.desired.value, row.observed.value) };
  });
}
