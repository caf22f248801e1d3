/**
 * Per-write outcomes (S10): every `saveDesired` gets a write id; its outcome is delivered to
 * the promise `outcome(writeId)` returns and to `onOutcome` listeners, once, after the replica
 * shows it. A write still in the outbox when the page reloads gets its outcome in the new
 * instance (its id is stored with the entry).
 */
import type { JsonObject } from '@cse/core';

interface OutcomeBase {
  /** The write id `saveDesired` returned. */
  readonly writeId: string;
  readonly collection: string;
  readonly id: string;
  /** The value this write carried. */
  readonly value: JsonObject;
}

/** What became of one Desired write. */
export type WriteOutcome =
  | (OutcomeBase & {
      readonly kind: 'applied';
      /** The Edge `_version` this write produced (a no-op write: the version it was based on). */
      readonly version: number;
      /** Its Edge `_sync_id`; 0 when only a duplicate's answer named it and the document changed since. */
      readonly syncId: number;
      /** The Edge had applied it before (its first answer was lost). */
      readonly duplicate: boolean;
    })
  | (OutcomeBase & {
      readonly kind: 'conflict';
      /** The Edge version the write was based on. */
      readonly base: number;
      /** The Edge's document the write was refused against (user fields), `null` if it has none. */
      readonly theirs: JsonObject | null;
      /** That document's Edge `_version` (0: none). */
      readonly theirsVersion: number;
      readonly message: string;
    })
  | (OutcomeBase & {
      readonly kind: 'refused';
      /** `FORBIDDEN`/`VALIDATION` from the Edge; `REVOKED` when the replica was wiped on revocation before the write was answered. */
      readonly code: 'FORBIDDEN' | 'VALIDATION' | 'REVOKED' | 'UPDATE_REQUIRED';
      readonly message: string;
    })
  | (OutcomeBase & {
      readonly kind: 'superseded';
      /** The later write to the same document that replaced this one before it was sent; its outcome tells what became of the document. */
      readonly by: string;
    });

/** Outcomes kept for `outcome()` calls made after the fact. */
const KEEP = 1000;

export class Outcomes {
  readonly #done = new Map<string, WriteOutcome>();
  readonly #waiting = new Map<string, (o: WriteOutcome) => void>();
  readonly #promises = new Map<string, Promise<WriteOutcome>>();
  readonly #listeners = new Set<(o: WriteOutcome) => void>();

  settle(o: WriteOutcome): void {
    if (this.#done.has(o.writeId)) return;
    this.#done.set(o.writeId, o);
    if (this.#done.size > KEEP) this.#done.delete(this.#done.keys().next().value as string);
    this.#waiting.get(o.writeId)?.(o);
    this.#waiting.delete(o.writeId);
    this.#promises.delete(o.writeId);
    for (const l of this.#listeners) {
      try {
        l(o);
      } catch {
        // a UI listener's failure is not the sync's
      }
    }
  }

  /** The outcome of `writeId`, once known (pending forever for an id this replica never wrote or that is long settled). */
  wait(writeId: string): Promise<WriteOutcome> {
    const done = this.#done.get(writeId);
    if (done !== undefined) return Promise.resolve(done);
    let p = this.#promises.get(writeId);
    if (p === undefined) {
      p = new Promise<WriteOutcome>((resolve) => this.#waiting.set(writeId, resolve));
      this.#promises.set(writeId, p);
    }
    return p;
  }

  on(listener: (o: WriteOutcome) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
