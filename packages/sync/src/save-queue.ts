/**
 * Coalesces `saveDesired` calls made close together (before the replica's queue gets to them)
 * into one local commit, so a burst of writes costs one fsync instead of one each. Each call
 * keeps its own write id, outbox entry, outcome and error. Two saves of one document in a burst
 * go in separate commits, in call order (the second is based on the first's entry).
 */
import type { OutboxEntry, SaveRequest, Written } from './outbox.js';
import type { Outbox } from './outbox.js';
import type { ReplicaState } from './replica-state.js';
import { docKey } from './replica-state.js';

/** Most saves in one local commit. */
const MAX_SAVES_PER_COMMIT = 500;

interface Waiting {
  readonly request: SaveRequest;
  readonly resolve: (w: Written) => void;
  readonly reject: (e: unknown) => void;
}

export class SaveQueue {
  readonly #state: ReplicaState;
  readonly #outbox: Outbox;
  /** Offers the saved entries for sending (in order). */
  readonly #offer: (entries: readonly OutboxEntry[]) => void;
  #waiting: Waiting[] = [];

  constructor(state: ReplicaState, outbox: Outbox, offer: (entries: readonly OutboxEntry[]) => void) {
    this.#state = state;
    this.#outbox = outbox;
    this.#offer = offer;
  }

  save(request: SaveRequest): Promise<Written> {
    return new Promise<Written>((resolve, reject) => {
      this.#waiting.push({ request, resolve, reject });
      // One drain per burst: the calls made before it runs all go into it.
      if (this.#waiting.length === 1) this.#state.serial(() => this.#drain()).catch(() => undefined);
    });
  }

  /** Saves the calls waiting now (later ones start the next drain, after what the queue holds by then). */
  async #drain(): Promise<void> {
    let waiting = this.#waiting;
    this.#waiting = [];
    while (waiting.length > 0) {
      // The longest run of different documents, in call order.
      const keys = new Set<string>();
      let n = 0;
      for (const w of waiting) {
        const key = docKey(w.request.collection, w.request.workerId);
        if (keys.has(key) || n === MAX_SAVES_PER_COMMIT) break;
        keys.add(key);
        n++;
      }
      const run = waiting.slice(0, n);
      waiting = waiting.slice(n);
      let answers: Awaited<ReturnType<Outbox['writeMany']>>;
      try {
        answers = await this.#outbox.writeMany(run.map((w) => w.request));
      } catch (e) {
        for (const w of run) w.reject(e);
        continue;
      }
      const saved: OutboxEntry[] = [];
      run.forEach((w, i) => {
        const a = answers[i] as (typeof answers)[number];
        if ('error' in a) w.reject(a.error);
        else {
          saved.push(a.entry);
          w.resolve(a);
        }
      });
      this.#offer(saved);
    }
  }
}
