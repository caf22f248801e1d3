/**
 * What the parent tells a child process (one JSON argument) and what the child prints back (one
 * JSON object per line on stdout). Shared by both sides; no Node imports.
 */

export interface ChildConfig {
  /**
   * `crash`: write until killed. `writer`: a fixed number of commits, then exit 0. `reader`:
   * follow `changesSince` until `stopFile` exists, then report what it saw. `index`: declare an
   * index on `ixcrash.v`, then commit updates and deletes of indexed documents until killed.
   * `steps`: one commit of `batches[n]` new documents at a time, each after `${stepFile}-${n}`
   * exists (the parent's go), then exit 0. `migrate`: migrate the `migrations` group's worker
   * type to version 3 in batches of `batchSize`, reporting each batch, then exit 0.
   */
  readonly mode: 'crash' | 'writer' | 'reader' | 'index' | 'steps' | 'migrate';
  /** Absolute path or `file:` URL of the factory module (exports `open`). */
  readonly module: string;
  readonly storeName: string;
  readonly dir: string;
  /** Distinguishes the documents of several children and rounds. */
  readonly tag: string;
  /** `writer` mode: how many commits. */
  readonly commits?: number;
  /**
   * `writer` mode: after `ready`, wait until this file exists before writing, so that all
   * writers start together and really race (process start-up times differ by hundreds of ms).
   */
  readonly startFile?: string;
  /** `steps` mode: documents per commit, in order. */
  readonly batches?: readonly number[];
  /** `steps` mode: commit `n` waits for the file `${stepFile}-${n}`. */
  readonly stepFile?: string;
  /** `reader` mode: stop following once this file exists. */
  readonly stopFile?: string;
  /** `migrate` mode: documents per batch. */
  readonly batchSize?: number;
}

export type ChildMessage =
  /** The store is open; writing starts. */
  | { readonly t: 'ready' }
  /** A plain commit of `docs` documents (and the shared `last` document) resolved. */
  | { readonly t: 'commit'; readonly n: number; readonly ids: readonly number[] }
  /** A TxCache transaction was begun (its journal is stored). */
  | { readonly t: 'tx-begun'; readonly n: number; readonly txId: string }
  /** Every op of the transaction is recorded (stored), not yet applied. */
  | { readonly t: 'tx-recorded'; readonly n: number; readonly txId: string; readonly ops: number }
  /** The transaction's commit resolved. */
  | { readonly t: 'tx-committed'; readonly n: number; readonly txId: string }
  /** `writer` mode: an increment of the shared counter went through. */
  | { readonly t: 'increment'; readonly syncId: number; readonly value: number }
  /**
   * `reader` mode, at the end: the newest `_sync_id` it received per document, the ids that
   * became visible only after a larger id was visible, and how many pages it read.
   */
  | { readonly t: 'seen'; readonly view: readonly (readonly [string, number])[]; readonly late: readonly string[]; readonly polls: number }
  /** `crash` mode: a plain commit starts; `lastMs` is how long the previous one took. */
  | { readonly t: 'commit-begin'; readonly n: number; readonly lastMs: number }
  /** `migrate` mode: a batch committed; `migrated` documents so far. */
  | { readonly t: 'batch'; readonly migrated: number }
  /** `writer` mode: all commits done. */
  | { readonly t: 'done' }
  | { readonly t: 'error'; readonly message: string };

/** Documents per plain commit in crash mode (besides the shared `last`). */
export const DOCS_PER_COMMIT = 3;
/** Ops per TxCache transaction in crash mode. */
export const OPS_PER_TX = 3;
/** `writer` mode: inserts one writer process has in flight at once. */
export const WRITES_IN_FLIGHT = 3;
