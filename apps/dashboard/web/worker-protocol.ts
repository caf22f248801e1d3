/**
 * What the page and the sync worker (`sync-worker.ts`) say to each other over a MessagePort. The
 * worker owns the replicas, their FrontendSyncs and every machine's row (kept in order, counted,
 * searched there); the page holds only the rows it draws: it says which it shows (`view`) and is
 * sent those (`window`) whenever they, the total or the counts change. It asks for edits.
 */
import type { SyncProgress, SyncStatus, WriteOutcome } from '@cse/sync';
import type { LinkConfig } from '../shared/link-config.js';
import type { MachineDesired } from '../shared/machines.js';
import type { StatusFilter } from './find.js';
import type { PageRow } from './model.js';
import type { RowCounts } from './row-set.js';

/** The page's requests the worker answers with a `reply` of the same `id`. */
export type Call =
  | { method: 'save'; id: string; desired: MachineDesired; baseVersion: number }
  | { method: 'resolve'; id: string; choice: 'mine' | 'theirs' }
  | { method: 'share'; grant: 'viewer' | 'operator' }
  | { method: 'pair'; code: string }
  | { method: 'paired' }
  | { method: 'revoke'; frontendId: string }
  /** The Edge's record of the writes applied to a machine's Desired state (`AppliedWrite[]`, newest first). */
  | { method: 'history'; id: string };

/** One browser paired with the Edge, as the pairing management lists it. */
export interface PairedView {
  readonly frontendId: string;
  readonly label: string;
  readonly grant: string;
  readonly pairedAt: number;
  readonly revoked: boolean;
  /** This browser. */
  readonly self: boolean;
}

/**
 * The rows a tab shows of one Edge: its search and filter (`selection` counts their changes), and
 * the range of the selected rows, in the table's order, it draws (with a margin around the
 * viewport; `count` 0 while the Edge is not shown, which still gets its counts), plus the machine
 * whose detail is open.
 */
export interface ViewRequest {
  readonly selection: number;
  readonly query: string;
  readonly filter: StatusFilter;
  readonly from: number;
  readonly count: number;
  readonly detail: string | undefined;
}

export type ToWorker =
  | { type: 'init'; config: LinkConfig; code: string | undefined }
  | { type: 'call'; seq: number; call: Call }
  | { type: 'view'; view: ViewRequest }
  /** The tab is going away (`pagehide`): the worker forgets it and stops computing its windows. */
  | { type: 'bye' };

/**
 * One sync worker serves every Edge of the page (one JavaScript heap, not one per Edge): each
 * message names its Edge's replica (`databaseName(config)`).
 */
export interface ToWorkerEnvelope {
  readonly edge: string;
  readonly msg: ToWorker;
}

export interface ToPageEnvelope {
  readonly edge: string;
  readonly msg: ToPage;
}

/** This browser's grant, as the page shows it. */
export interface GrantView {
  readonly preset: string;
  readonly canWrite: boolean;
  readonly admin: boolean;
  readonly summary: string;
}

export interface SyncState {
  readonly status: SyncStatus;
  readonly progress: SyncProgress;
  readonly pending: number;
  /** Changes received from the Edge since the worker started. */
  readonly received: number;
  /** The replica's cursors when the sync started. */
  readonly startCursors: Record<string, number>;
  readonly grant: GrantView | undefined;
  /** Worker types the Edge cannot serve in this page's schema version (S12): "Reload to update". */
  readonly updateRequired: readonly string[];
  /** The sync's last error (why its last connection ended, when it failed), as text. */
  readonly lastError?: string;
}

/**
 * `sync`: this worker syncs the replica; `other-tab`: another worker does (a browser without
 * SharedWorker, one dedicated worker per tab), this one shows the replica read-only; `unpaired`:
 * the browser needs a pairing code.
 */
export type Role = 'sync' | 'other-tab' | 'unpaired';

export type ToPage =
  | { type: 'hello'; description: string }
  | { type: 'role'; role: Role; error?: string }
  /**
   * The selected rows `from`..`from + rows.length` of the `view` of `selection` (`rows` left out
   * when they are the ones last sent), how many rows are selected, the Edge's counts, and the
   * detail's machine when its row changed.
   */
  | { type: 'window'; selection: number; total: number; from: number; rows?: PageRow[]; counts: RowCounts; detail?: PageRow }
  | { type: 'sync'; state: SyncState }
  /** How many tabs this Edge's sync serves (this one included), whenever a tab joins or leaves. */
  | { type: 'tabs'; count: number }
  | { type: 'outcome'; outcome: WriteOutcome }
  | { type: 'reply'; seq: number; ok: true; value: unknown }
  | { type: 'reply'; seq: number; ok: false; error: string }
  | { type: 'error'; message: string };
