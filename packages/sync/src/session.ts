/**
 * The connection loop of a Frontend: connect (with backoff), hello, welcome, then pages and
 * results until the connection closes, and again until stopped. Keeps the status and progress a
 * UI shows, and drops a connection that is silent, unwelcomed, or holds a write without result
 * too long (the next one resumes from the cursors and sends the outbox again).
 */
import { CseError, ErrorCode, isCseError } from '@cse/core';
import type { AdminClient } from './admin.js';
import type { Grant } from './grants.js';
import type { EdgeMessage, WireWrite } from './protocol.js';
import { PROTOCOL_VERSION, ProtocolError, decodeEdge, encode } from './protocol.js';
import { applyPage, applyResult, rebuild } from './apply-page.js';
import type { Outcomes } from './outcomes.js';
import type { Outbox, OutboxEntry } from './outbox.js';
import type { ReplicaState } from './replica-state.js';
import type { Connect, Transport } from './transport.js';

export type SyncStatus = 'offline' | 'connecting' | 'syncing' | 'live' | 'stopped' | 'revoked';

export interface SyncProgress {
  /** Changes applied since the connection opened. */
  readonly applied: number;
  /** The lowest cursor of the followed collections. */
  readonly cursor: number;
  /** The Edge's last sync id, as far as known. */
  readonly head: number;
}

export interface SessionOptions {
  readonly heartbeatMs: number;
  readonly resultTimeoutMs: number;
  readonly backoff: { readonly min: number; readonly max: number };
  readonly maxFrame: number;
  /** Runs once when the Edge or relay refuses this Frontend for good (`REVOKED`), before the status says so. */
  readonly onRevoked: (error: CseError) => Promise<void>;
  /** Runs at once (before later frames) with each grant the Edge sends, in `welcome` or on its own. */
  readonly onGrant?: (grant: Grant) => void;
  /** Answers to administration requests, and the end of the connection they were on. */
  readonly admin?: AdminClient;
  /** Per worker type, the schema version this Frontend speaks (sent in hello when one is above 1). */
  readonly schemas?: () => Readonly<Record<string, number>>;
  /** Runs with each welcome: the worker types the Edge cannot serve in this Frontend's version. */
  readonly onUpdateRequired?: (workerTypes: readonly string[]) => void;
  /** How long a live connection may stay behind the Edge's head before the status says `syncing` (see FrontendSyncOptions). */
  readonly liveGraceMs: number;
}

/** The version a Frontend falls back to when an Edge does not speak 3 (never lower: v1 has no `write.bs`). */
const FALLBACK_VERSION = 2;

/** Most writes in one v3 `writes` frame, and about how many bytes of bodies. */
const WRITES_PER_FRAME = 200;
const BATCH_BYTES = 256 * 1024;

/** A close reason or Edge error code that means "revoked" (the transports close with the code as the reason). */
function revokedBy(reason: string): boolean {
  return reason === ErrorCode.REVOKED || reason.startsWith(`${ErrorCode.REVOKED}:`) || reason.startsWith(`${ErrorCode.REVOKED} `);
}

export class SessionLoop {
  readonly #state: ReplicaState;
  readonly #outbox: Outbox;
  readonly #outcomes: Outcomes;
  readonly #connect: Connect;
  readonly #opts: SessionOptions;
  #transport: Transport | undefined;
  #welcomed = false;
  /** Collections of worker types the Edge said `UPDATE_REQUIRED` for: their writes wait. */
  #blocked = new Set<string>();
  #status: SyncStatus = 'offline';
  #progress: SyncProgress = { applied: 0, cursor: 0, head: 0 };
  readonly #listeners = new Set<(status: SyncStatus, progress: SyncProgress) => void>();
  #running: Promise<void> | undefined;
  #stopped = false;
  /** Aborts the connection attempt under way (stop, reconnect): a silent peer must not hold them. */
  #abortConnect: ((reason: string) => void) | undefined;
  /** A reconnect() during a connection attempt: try again at once, without the backoff wait. */
  #retryNow = false;
  #wakeRetry: (() => void) | undefined;
  #lastError: unknown;
  /** While live and behind: the timer that says `syncing` unless a page that catches up clears it first. */
  #behindTimer: ReturnType<typeof setTimeout> | undefined;

  #revoked: CseError | undefined;
  /** The protocol version this Frontend greets with: 3, or 2 for the rest of its life once an Edge refused 3. */
  #speaks = PROTOCOL_VERSION;

  constructor(state: ReplicaState, outbox: Outbox, outcomes: Outcomes, connect: Connect, opts: SessionOptions) {
    this.#state = state;
    this.#outbox = outbox;
    this.#outcomes = outcomes;
    this.#connect = connect;
    this.#opts = opts;
  }

  get status(): SyncStatus {
    return this.#status;
  }

  get progress(): SyncProgress {
    return this.#progress;
  }

  get lastError(): unknown {
    return this.#lastError;
  }

  /** The `REVOKED` error that ended this Frontend's sync, if one did. */
  get revoked(): CseError | undefined {
    return this.#revoked;
  }

  get running(): boolean {
    return this.#running !== undefined;
  }

  onStatus(listener: (status: SyncStatus, progress: SyncProgress) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  start(): void {
    if (this.#revoked !== undefined) return;
    this.#stopped = false;
    this.#running = this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#transport?.close('stopped');
    this.#abortConnect?.('stopped');
    this.#wakeRetry?.();
    await this.#running;
    this.#running = undefined;
    await this.#state.idle().catch(() => undefined);
    if (this.#revoked === undefined) this.#setStatus('stopped');
  }

  reconnect(): void {
    this.#transport?.close('reconnect');
    if (this.#abortConnect !== undefined) {
      this.#retryNow = true;
      this.#abortConnect('reconnect');
    }
    this.#wakeRetry?.();
  }

  /** The connection, once welcomed (for administration requests). */
  get liveTransport(): Transport | undefined {
    return this.#welcomed ? this.#transport : undefined;
  }

  /** Sends the entries now (those with no write of their document on the wire) if a welcomed connection is up. */
  offer(entries: readonly OutboxEntry[]): void {
    if (this.#welcomed) this.#sendWrites(entries.filter((e) => !this.#outbox.isInflight(e.key)));
  }

  updateProgress(p: Partial<SyncProgress>): void {
    this.#progress = { ...this.#progress, ...p, cursor: this.#state.lowestCursor() };
    this.#emit();
  }

  #setStatus(status: SyncStatus): void {
    if (status !== 'live') this.#stopBehindTimer();
    if (this.#status === status) return;
    this.#status = status;
    this.#emit();
  }

  #emit(): void {
    for (const l of this.#listeners) {
      try {
        l(this.#status, this.#progress);
      } catch {
        // a UI listener's failure is not the sync's
      }
    }
  }

  async #run(): Promise<void> {
    let delay = this.#opts.backoff.min;
    while (!this.#stopped) {
      this.#setStatus('connecting');
      let t: Transport | undefined;
      const attempt = new AbortController();
      this.#abortConnect = (reason) => attempt.abort(new CseError(ErrorCode.CLOSED, `connection attempt aborted (${reason})`));
      try {
        t = await this.#connect({ signal: attempt.signal });
      } catch (e) {
        if (isCseError(e, 'REVOKED')) {
          await this.#revoke(e);
          break;
        }
        t = undefined;
      } finally {
        this.#abortConnect = undefined;
      }
      if (t !== undefined) {
        if (this.#stopped) {
          t.close('stopped');
          break;
        }
        const { healthy, reason } = await this.#session(t);
        if (healthy) delay = this.#opts.backoff.min;
        if (revokedBy(reason)) {
          await this.#revoke(new CseError(ErrorCode.REVOKED, `this Frontend was revoked (${reason})`));
          break;
        }
      }
      if (this.#stopped) break;
      if (this.#retryNow) {
        this.#retryNow = false;
        continue;
      }
      this.#setStatus('offline');
      const wait = delay * (0.5 + Math.random() / 2);
      delay = Math.min(this.#opts.backoff.max, delay * 2);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        this.#wakeRetry = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wakeRetry = undefined;
    }
  }

  /** Terminal: no more connections; the local replica is wiped if the options say so. */
  async #revoke(e: CseError): Promise<void> {
    this.#stopped = true;
    this.#lastError = e;
    this.#revoked = e;
    await this.#state.serial(() => this.#opts.onRevoked(e)).catch(() => undefined);
    this.#setStatus('revoked');
  }

  /** Runs one connection until it closes: whether it got as far as a welcome, and why it closed. */
  #session(t: Transport): Promise<{ healthy: boolean; reason: string }> {
    const state = this.#state;
    return new Promise<{ healthy: boolean; reason: string }>((resolve) => {
      this.#transport = t;
      this.#welcomed = false;
      this.#outbox.clearWire();
      let welcomed = false;
      let lastHeard = Date.now();
      const beat = this.#opts.heartbeatMs;
      const opened = Date.now();
      const timer = setInterval(() => {
        const now = Date.now();
        if (now - lastHeard > 3 * beat) t.close('heartbeat timeout');
        else if (!welcomed && now - opened > this.#opts.resultTimeoutMs) t.close('no welcome in time');
        else t.send(encode({ t: 'ping' }));
        if (this.#outbox.overdue(now, this.#opts.resultTimeoutMs)) t.close('a write result timed out');
      }, Math.min(beat, this.#opts.resultTimeoutMs));
      // A broken Edge message: nothing of it was applied; drop the link, resume from the cursors.
      const fail = (e: unknown): void => {
        this.#lastError = e;
        t.close(isCseError(e) ? e.code : 'INTERNAL');
      };
      t.onmessage = (frame) => {
        lastHeard = Date.now();
        let m: EdgeMessage;
        try {
          m = decodeEdge(frame, this.#opts.maxFrame);
        } catch (e) {
          fail(e);
          return;
        }
        if (m.t === 'ping') {
          t.send(encode({ t: 'pong' }));
          return;
        }
        if (m.t === 'pong') return;
        if (m.t === 'error') {
          if (!welcomed && this.#speaks > FALLBACK_VERSION && m.code === ErrorCode.PROTOCOL && m.message.startsWith(`protocol version ${this.#speaks} is not spoken here`)) {
            // An Edge from before v3: speak v2 to it (v3 only batches and packs; nothing a v2 session does is weaker). Again at once.
            this.#speaks = FALLBACK_VERSION;
            this.#retryNow = true;
          }
          t.close(m.code === ErrorCode.REVOKED ? `${ErrorCode.REVOKED}: ${m.message}` : `edge error ${m.code}`);
          return;
        }
        if (m.t === 'grant' || (m.t === 'welcome' && m.grant !== undefined)) this.#opts.onGrant?.(m.grant as Grant);
        if (m.t === 'grant') return;
        if (m.t === 'admin-result') {
          this.#opts.admin?.answer(m);
          return;
        }
        if (!welcomed && m.t !== 'welcome') {
          fail(new ProtocolError(`a ${m.t} before welcome`));
          return;
        }
        if (m.t === 'welcome') {
          if (welcomed) {
            fail(new ProtocolError('a second welcome'));
            return;
          }
          welcomed = true;
        }
        state.serial(() => this.#handle(t, m)).catch((e: unknown) => fail(e));
      };
      t.onclose = (reason) => {
        clearInterval(timer);
        this.#opts.admin?.closed();
        if (this.#transport === t) {
          this.#transport = undefined;
          this.#welcomed = false;
        }
        resolve({ healthy: welcomed, reason: typeof reason === 'string' ? reason : '' });
      };
      t.send(
        encode({
          t: 'hello',
          v: this.#speaks,
          client: state.client,
          epoch: state.epoch,
          collections: state.collections,
          cursors: Object.fromEntries(state.collections.map((c) => [c, state.cursors[c] ?? 0])),
          ...this.#helloSchemas(),
        }),
      );
    });
  }

  async #handle(t: Transport, m: EdgeMessage): Promise<void> {
    if (this.#transport !== t) return; // a message of a connection that is gone
    const state = this.#state;
    switch (m.t) {
      case 'welcome': {
        if (m.v !== this.#speaks) throw new ProtocolError(`the Edge speaks protocol ${m.v}, this Frontend ${this.#speaks}`);
        if (m.reset || (state.epoch !== null && state.epoch !== m.epoch)) await rebuild(state, this.#outbox, m.epoch);
        else if (state.epoch === null) {
          await state.replica.commit([state.stateWrite(m.epoch, state.cursors)]);
          state.epoch = m.epoch;
        }
        const stale = new Set(m.updateRequired ?? []);
        this.#blocked = new Set(Object.entries(m.collections).filter(([, meta]) => stale.has(meta.workerType)).map(([c]) => c));
        this.#opts.onUpdateRequired?.([...stale].sort());
        this.#welcomed = true;
        this.updateProgress({ applied: 0, head: m.head });
        this.#setStatus(state.collections.length === 0 ? 'live' : 'syncing');
        this.#sendWrites(this.#outbox.inOrder());
        return;
      }
      case 'page': {
        if (!(await applyPage(state, this.#outbox, m))) return;
        t.send(encode({ t: 'ack', n: m.n }));
        this.updateProgress({ applied: this.#progress.applied + m.changes.length, head: m.head });
        this.#pageStatus(t, m.head > m.to);
        return;
      }
      case 'result': {
        const entry = this.#outbox.takeResult(m.w);
        if (entry === undefined) return; // a copy, or of an older connection
        const { again, outcomes } = await applyResult(state, this.#outbox, entry, m);
        if (again) this.#sendWrites([entry]);
        else this.#emit();
        for (const o of outcomes) this.#outcomes.settle(o);
        return;
      }
      case 'results': {
        // Results of different documents, applied side by side: the replica's group commit (where
        // it has one) makes them one local commit.
        const applied = await Promise.all(
          m.rs.map(async (r) => {
            const entry = this.#outbox.takeResult(r.w);
            if (entry === undefined) return undefined; // a copy, or of an older connection
            const { again, outcomes } = await applyResult(state, this.#outbox, entry, { t: 'result', ...r });
            for (const o of outcomes) this.#outcomes.settle(o);
            return again ? entry : undefined;
          }),
        );
        this.#sendWrites(applied.filter((e): e is OutboxEntry => e !== undefined));
        this.#emit();
        return;
      }
      default:
        return;
    }
  }

  /**
   * The status after a page. Caught up: `live`. Behind before the connection was ever live (the
   * backlog): `syncing`. Behind while live (one commit larger than a page, a burst the Edge sends
   * in several pages): still `live` unless it is still behind after `liveGraceMs`, so a steady
   * stream of large commits does not flip the status back and forth.
   */
  #pageStatus(t: Transport, behind: boolean): void {
    if (!behind) {
      this.#stopBehindTimer();
      this.#setStatus('live');
      return;
    }
    if (this.#status !== 'live' || this.#opts.liveGraceMs <= 0) {
      this.#setStatus('syncing');
      return;
    }
    this.#behindTimer ??= setTimeout(() => {
      this.#behindTimer = undefined;
      if (this.#transport === t && this.#status === 'live') this.#setStatus('syncing');
    }, this.#opts.liveGraceMs);
  }

  #stopBehindTimer(): void {
    clearTimeout(this.#behindTimer);
    this.#behindTimer = undefined;
  }

  /** `schemas` for the hello: only when a version is above 1, so an Edge from before versions is greeted as before. */
  #helloSchemas(): { schemas?: Record<string, number> } {
    const all = this.#opts.schemas?.() ?? {};
    return Object.values(all).some((v) => v > 1) ? { schemas: { ...all } } : {};
  }

  /** Sends the entries' writes, several to a frame on a v3 connection. */
  #sendWrites(entries: readonly OutboxEntry[]): void {
    const t = this.#transport;
    if (t === undefined || !this.#welcomed) return;
    let batch: WireWrite[] = [];
    let size = 0;
    const flush = (): void => {
      if (batch.length === 1) t.send(encode({ t: 'write', ...(batch[0] as WireWrite) }));
      else if (batch.length > 1) t.send(encode({ t: 'writes', ws: batch }));
      batch = [];
      size = 0;
    };
    for (const e of entries) {
      if (this.#blocked.has(e.c)) continue;
      const w = this.#outbox.wire(e);
      if (this.#speaks < 3) {
        t.send(encode({ t: 'write', ...w }));
        continue;
      }
      const bytes = JSON.stringify(w.body).length;
      if (batch.length > 0 && (batch.length === WRITES_PER_FRAME || size + bytes > BATCH_BYTES)) flush();
      batch.push(w);
      size += bytes;
    }
    flush();
  }
}
