/**
 * EdgeSync: serves the Edge's changes to many Frontends and applies their Desired writes.
 *
 * Each connection is one session with its own cursors and subscription; the Edge keeps nothing
 * per Frontend but the receipts of applied writes (in its store, so a write sent again after a
 * lost result is applied once). A session streams in two phases: a catch-up that brings
 * collections with older cursors (a widened subscription) up to the others without a gap, then
 * one live feed on `store.watch` for all of them. At most `window` pages are unacknowledged, so
 * a slow Frontend slows its own stream and the Edge never buffers without bound.
 */
import type { ChangePage, Registry, Store, TriangularStore } from '@cse/core';
import type { PeerState } from '@cse/core';
import { Replica, ResetRequiredError, SyncState, Tier, isCseError } from '@cse/core';
import { answerAdmin } from './admin.js';
import type { WriteSession } from './edge-writes.js';
import { WriteQueue } from './edge-writes.js';
import type { FeedWaiter } from './edge-feed.js';
import { SessionFeed } from './edge-feed.js';
import { PeerSchemas } from './peer-schemas.js';
import type { SessionAuth } from './edge-grants.js';
import { SessionGrant } from './edge-grants.js';
import type { Grant } from './grants.js';
import type { ClientMessage, EdgeMessage, WireChange } from './protocol.js';
import { DEFAULT_MAX_FRAME, MIN_PROTOCOL_VERSION, PROTOCOL_VERSION, ProtocolError, decodeClient, encode, packChange } from './protocol.js';
import type { Transport } from './transport.js';

export interface EdgeSyncOptions {
  readonly store: Store;
  readonly registry: Registry;
  readonly triangular: TriangularStore;
  /**
   * Changes per page read. Default 1000: an initial load into IndexedDB goes in fewer, larger
   * replica transactions (issue 26's L1: 0.58x → 0.85x of raw IndexedDB at 100,000 documents, against
   * pages of 200); a frame is still split at `pageBytes`.
   */
  readonly pageSize?: number;
  /** A page is split so its frame stays under about this many characters. Default 512 KiB. */
  readonly pageBytes?: number;
  /** Unacknowledged pages per session. Default 4. */
  readonly window?: number;
  /** Largest frame accepted. Default 8 MiB. */
  readonly maxFrame?: number;
  /** Ping interval; a session silent for 3 intervals is closed. Default 15 000 ms. */
  readonly heartbeatMs?: number;
  /** Time a new connection has to say hello. Default 10 000 ms. */
  readonly helloTimeoutMs?: number;
  /** A full window without an acknowledgement for this long closes the session (the Frontend resumes from its cursors). Default 30 000 ms. */
  readonly ackTimeoutMs?: number;
  /**
   * How often a session records what its Frontend acknowledged in the Edge's `SyncState`
   * (`markSynced(Tier.Edge, cursor, { peer: replicaId })`, see `frontends()`): the first
   * acknowledgement at once, then at most once per interval, and the last when the session
   * ends. Default 1 000 ms; 0 records nothing.
   */
  readonly ackRecordMs?: number;
}

/** Counters of what the Edge did, for tests and dashboards. */
export interface EdgeStats {
  sessions: number;
  pagesSent: number;
  changesSent: number;
  writesApplied: number;
  writesDuplicate: number;
  writesConflict: number;
  writesRefused: number;
  protocolErrors: number;
  /** Sessions refused because their subscription was outside the Frontend's grant. */
  subscriptionsRefused: number;
}

export class EdgeSync {
  readonly store: Store;
  readonly registry: Registry;
  readonly triangular: TriangularStore;
  readonly options: Required<Omit<EdgeSyncOptions, 'store' | 'registry' | 'triangular'>>;
  readonly stats: EdgeStats = { sessions: 0, pagesSent: 0, changesSent: 0, writesApplied: 0, writesDuplicate: 0, writesConflict: 0, writesRefused: 0, protocolErrors: 0, subscriptionsRefused: 0 };
  readonly #sessions = new Set<EdgeSession>();
  readonly #syncState: SyncState;
  /** @internal The live sessions' shared wake-up (see `edge-feed.ts`). */
  readonly feed: SessionFeed;
  #epoch: Promise<string> | undefined;
  #closed = false;

  constructor(options: EdgeSyncOptions) {
    this.store = options.store;
    this.registry = options.registry;
    this.triangular = options.triangular;
    this.#syncState = new SyncState(options.store, options.registry);
    this.options = {
      pageSize: options.pageSize ?? 1000,
      pageBytes: options.pageBytes ?? 512 * 1024,
      window: options.window ?? 4,
      maxFrame: options.maxFrame ?? DEFAULT_MAX_FRAME,
      heartbeatMs: options.heartbeatMs ?? 15_000,
      helloTimeoutMs: options.helloTimeoutMs ?? 10_000,
      ackTimeoutMs: options.ackTimeoutMs ?? 30_000,
      ackRecordMs: options.ackRecordMs ?? 1_000,
    };
    this.feed = new SessionFeed(options.store, this.options.pageSize);
  }

  /** The Edge store's epoch (created with the store's first sync). */
  epoch(): Promise<string> {
    this.#epoch ??= this.#syncState.epoch();
    return this.#epoch;
  }

  /** The Edge's bookkeeping (`SyncState` on its store): epoch and what each Frontend acknowledged. */
  get syncState(): SyncState {
    return this.#syncState;
  }

  /**
   * Every Frontend replica that ever acknowledged a page, with the highest `_sync_id` it has
   * applied for all of its collections and when that last rose, lowest first (from the store,
   * so it survives restarts). The lowest is how far every known replica has come: tombstones at
   * or below it can be compacted without sending any of them into a reset.
   */
  frontends(): Promise<PeerState[]> {
    return this.#syncState.listPeers(Tier.Edge);
  }

  /**
   * Serves one Frontend on `transport` until it closes. `auth` (from the encrypted channel: the
   * Frontend's id and grant) limits the session to the grant; without it nothing is limited.
   */
  accept(transport: Transport, auth?: SessionAuth): EdgeSession {
    const session = new EdgeSession(this, transport, () => this.#sessions.delete(session), auth);
    if (this.#closed) {
      void session.close('the edge is closing');
      return session;
    }
    this.#sessions.add(session);
    this.stats.sessions++;
    return session;
  }

  /**
   * Applies a changed grant to the live sessions of `frontendId` at once: each learns it (a
   * `grant` message); one that follows a collection the grant no longer lets it read ends (the
   * Frontend drops those documents and comes back narrowed); later writes are checked against it.
   */
  setGrant(frontendId: string, grant: Grant): void {
    for (const s of this.#sessions) if (s.frontendId === frontendId) s.setGrant(grant);
  }

  /** Live sessions. */
  get sessions(): number {
    return this.#sessions.size;
  }

  /** Closes every session (the store stays open: it is the caller's). */
  async close(): Promise<void> {
    this.#closed = true;
    this.feed.close();
    await Promise.all([...this.#sessions].map((s) => s.close('the edge is closing')));
  }
}

export class EdgeSession {
  readonly #edge: EdgeSync;
  readonly #t: Transport;
  readonly #onEnd: () => void;
  readonly #abort = new AbortController();
  #client: string | undefined;
  #collections = new Set<string>();
  /** The protocol version this session speaks (the hello's). */
  #version = 1;
  /** The schema versions the Frontend speaks (S12), set by its hello. */
  #schemas: PeerSchemas | undefined;
  readonly #replica: Replica;
  /** Writes in flight: one document's in order, different documents side by side (see edge-writes.ts). */
  readonly #writes = new WriteQueue(() => this.#writer(), (e) => this.#fail(e));
  #pageNo = 0;
  #acked = 0;
  /** Where each followed collection stands once the Frontend has acknowledged what was sent. */
  readonly #ackedCursors = new Map<string, number>();
  /** Sent, not yet acknowledged pages: what each moves its collections to. */
  readonly #unacked = new Map<number, { cs: readonly string[]; to: number }>();
  #recorded = -1;
  #recordAt = 0;
  #recordTimer: ReturnType<typeof setTimeout> | undefined;
  #recording: Promise<void> = Promise.resolve();
  #credit: (() => void) | undefined;
  #lastHeard = Date.now();
  #compactedAtStart = 0;
  /** The newest followed change known (for progress: bookkeeping sync ids are not counted). */
  #head = 0;
  #ackWaitSince = Date.now();
  #timer: ReturnType<typeof setInterval> | undefined;
  #helloTimer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  #stream: Promise<void> = Promise.resolve();
  readonly #auth: SessionAuth | undefined;
  readonly #grant: SessionGrant;
  #ended: (reason: string) => void = () => undefined;
  /** Resolves with the reason when the session ends. */
  readonly ended = new Promise<string>((resolve) => (this.#ended = resolve));

  constructor(edge: EdgeSync, transport: Transport, onEnd: () => void, auth?: SessionAuth) {
    this.#edge = edge;
    this.#replica = new Replica(edge.store);
    this.#t = transport;
    this.#onEnd = onEnd;
    this.#auth = auth;
    this.#grant = new SessionGrant(edge.registry, auth?.grant, () => this.setGrant(this.#grant.grant as Grant));
    transport.onmessage = (frame) => this.#onFrame(frame);
    transport.onclose = () => void this.close('peer closed');
    this.#helloTimer = setTimeout(() => this.#fail(new ProtocolError('no hello in time')), edge.options.helloTimeoutMs);
    const beat = edge.options.heartbeatMs;
    this.#timer = setInterval(() => {
      if (Date.now() - this.#lastHeard > 3 * beat) void this.close('heartbeat timeout');
      else if (this.#pageNo > this.#acked && Date.now() - this.#ackWaitSince > edge.options.ackTimeoutMs) void this.close('no acknowledgement in time');
      else this.#send({ t: 'ping' });
    }, Math.min(beat, edge.options.ackTimeoutMs));
  }

  /** Ends the session and waits for its stream to stop. */
  async close(reason = 'closed'): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#abort.abort();
      this.#credit?.();
      clearInterval(this.#timer);
      clearTimeout(this.#helloTimer);
      this.#grant.stop();
      this.#t.close(reason);
      this.#onEnd();
      this.#ended(reason);
      this.#recordAck(true);
    }
    await this.#stream.catch(() => undefined);
    await this.#writes.idle();
    await this.#recording;
  }

  /** The Frontend's key id, for a session of the encrypted channel. */
  get frontendId(): string | undefined {
    return this.#auth?.frontendId;
  }

  /** The grant the session is held to (undefined: not limited). */
  get grant(): Grant | undefined {
    return this.#grant.grant;
  }

  /** See `EdgeSync.setGrant`. */
  setGrant(grant: Grant): void {
    if (this.#closed) return;
    this.#grant.set(grant);
    if (this.#client === undefined) return; // the hello is checked against it when it comes
    this.#send({ t: 'grant', grant });
    if (this.#grant.unreadable(this.#collections).length > 0) void this.close('FORBIDDEN: the grant no longer covers the subscription');
  }

  /**
   * Records the Frontend's acknowledged position in the Edge's SyncState: the lowest cursor of
   * its collections (each page acknowledged is committed in its replica). Throttled; a failure
   * to record (a closing store) never disturbs the session.
   */
  #recordAck(final: boolean): void {
    const every = this.#edge.options.ackRecordMs;
    if (every <= 0 || this.#client === undefined || this.#ackedCursors.size === 0) return;
    const at = Math.min(...this.#ackedCursors.values());
    if (at <= this.#recorded) return;
    const now = Date.now();
    if (!final && this.#recorded >= 0 && now - this.#recordAt < every) {
      // Too soon: record the newest position once the interval is over.
      this.#recordTimer ??= setTimeout(() => {
        this.#recordTimer = undefined;
        if (!this.#closed) this.#recordAck(false);
      }, every - (now - this.#recordAt));
      return;
    }
    clearTimeout(this.#recordTimer);
    this.#recordTimer = undefined;
    this.#recorded = at;
    this.#recordAt = now;
    const peer = this.#client;
    this.#recording = this.#recording
      .then(() => this.#edge.syncState.markSynced(Tier.Edge, at, { peer }))
      .catch(() => undefined);
  }

  #send(m: EdgeMessage): void {
    if (!this.#closed) this.#t.send(encode(m));
  }

  #sendText(frame: string): void {
    if (!this.#closed) this.#t.send(frame);
  }

  /** A broken peer: a typed error frame, then the connection closes. Nothing of it was applied. */
  #fail(e: unknown): void {
    if (this.#closed) return;
    const code = isCseError(e) ? e.code : 'INTERNAL';
    if (code === 'PROTOCOL') this.#edge.stats.protocolErrors++;
    this.#send({ t: 'error', code, message: e instanceof Error ? e.message : String(e) });
    void this.close(`${code}`);
  }

  #onFrame(frame: string): void {
    if (this.#closed) return;
    this.#lastHeard = Date.now();
    let m: ClientMessage;
    try {
      m = decodeClient(frame, this.#edge.options.maxFrame);
    } catch (e) {
      this.#fail(e);
      return;
    }
    if (this.#client === undefined && m.t !== 'hello') {
      this.#fail(new ProtocolError(`a ${m.t} before hello`));
      return;
    }
    switch (m.t) {
      case 'hello':
        if (this.#client !== undefined) {
          this.#fail(new ProtocolError('a second hello'));
          return;
        }
        this.#client = m.client;
        clearTimeout(this.#helloTimer);
        this.#stream = this.#serve(m).catch((e: unknown) => this.#fail(e));
        return;
      case 'write':
        this.#writes.track(this.#writes.apply(m).then((r) => this.#send(r)));
        return;
      case 'writes':
        // v3: applied side by side (one group commit), answered together in the frame's order.
        if (this.#version < 3) {
          this.#fail(new ProtocolError(`a writes frame in a protocol ${this.#version} session`));
          return;
        }
        this.#writes.track(Promise.all(m.ws.map((w) => this.#writes.apply({ t: 'write', ...w }))).then((rs) => this.#send({ t: 'results', rs: rs.map(({ t: _, ...r }) => r) })));
        return;
      case 'ack':
        if (m.n > this.#pageNo || m.n <= this.#acked) {
          this.#fail(new ProtocolError(`ack of page ${m.n}, but pages ${this.#acked + 1}..${this.#pageNo} are outstanding`));
          return;
        }
        for (let n = this.#acked + 1; n <= m.n; n++) {
          const page = this.#unacked.get(n);
          this.#unacked.delete(n);
          if (page) for (const c of page.cs) this.#ackedCursors.set(c, Math.max(this.#ackedCursors.get(c) ?? 0, page.to));
        }
        this.#acked = m.n;
        this.#ackWaitSince = Date.now();
        this.#credit?.();
        this.#recordAck(false);
        return;
      case 'admin':
        void answerAdmin(m, this.#grant.grant, this.#auth?.admin, this.#auth?.frontendId, (c) => this.#grant.unreadable([c]).length === 0).then((r) => this.#send(r));
        return;
      case 'ping':
        this.#send({ t: 'pong' });
        return;
      case 'pong':
        return;
    }
  }

  async #serve(hello: Extract<ClientMessage, { t: 'hello' }>): Promise<void> {
    const edge = this.#edge;
    if (hello.v < MIN_PROTOCOL_VERSION || hello.v > PROTOCOL_VERSION) {
      throw new ProtocolError(`protocol version ${hello.v} is not spoken here (this Edge speaks ${MIN_PROTOCOL_VERSION} to ${PROTOCOL_VERSION})`);
    }
    const meta: Record<string, { workerType: string; role: string }> = {};
    for (const c of hello.collections) {
      if (!edge.registry.isRegistered(c)) throw new ProtocolError(`collection ${c} is not registered on this Edge`);
      const { workerType, role } = edge.registry.getMetadata(c);
      meta[c] = { workerType, role };
    }
    const forbidden = this.#grant.checkSubscription(hello.collections);
    if (forbidden !== undefined) {
      // Nothing of the store is sent: the Frontend learns its grant (to narrow) and the reason.
      edge.stats.subscriptionsRefused++;
      this.#send({ t: 'grant', grant: this.#grant.grant as Grant });
      throw forbidden;
    }
    this.#collections = new Set(hello.collections);
    this.#version = hello.v;
    // Worker types this Edge cannot serve in the Frontend's schema version are left out: no
    // pages, the Frontend's cursors for them stay, so an upgrade on either side resumes them.
    const schemas = new PeerSchemas(edge.registry, hello.collections, hello.schemas);
    this.#schemas = schemas;
    const served = hello.collections.filter((c) => schemas.serves(c));
    const epoch = await edge.epoch();
    this.#compactedAtStart = await edge.store.compactedThrough();
    const last = await edge.store.lastSyncId();
    const cursors = new Map(served.map((c) => [c, hello.cursors[c] ?? 0]));
    let reset = hello.epoch !== null && hello.epoch !== epoch;
    if (hello.epoch === null && [...cursors.values()].some((n) => n > 0)) reset = true;
    if (!reset) {
      for (const n of new Set(cursors.values())) {
        if (n === 0) continue;
        try {
          await edge.store.changesSince(n, { collections: served, limit: 1 });
        } catch (e) {
          if (!isCseError(e, 'RESET_REQUIRED')) throw e;
          reset = true;
        }
      }
    }
    if (reset) for (const c of cursors.keys()) cursors.set(c, 0);
    for (const [c, n] of cursors) this.#ackedCursors.set(c, n);
    const head = cursors.size === 0 ? 0 : await this.#followedHead(served, Math.min(...cursors.values()), last);
    this.#head = head;
    const grant = this.#grant.grant;
    const updateRequired = schemas.announced ? { updateRequired: schemas.updateRequired } : {};
    this.#send({ t: 'welcome', v: hello.v, epoch, head, reset, collections: meta, ...(grant === undefined ? {} : { grant }), ...updateRequired });
    if (cursors.size === 0) return;
    await this.#catchUp(cursors);
    let at = [...cursors.values()][0] as number;
    const all = [...cursors.keys()];
    // The backlog first, ending with a page (possibly empty) that says "caught up" (head = to).
    for (;;) {
      // Every id up to the head read first is committed, so a last page may end there rather
      // than at its last change: a cursor at the head stays valid after a compaction through it.
      const before = await edge.store.lastSyncId();
      const page = await this.#read(at, all);
      const to = page.hasMore ? page.cursor : Math.max(page.cursor, before);
      await this.#sendPage(all, at, to, page, page.hasMore ? Math.max(to + 1, this.#head) : to);
      at = to;
      if (!page.hasMore || this.#closed) break;
    }
    await this.#follow(at, all);
  }

  /**
   * The live phase: a page whenever the Edge's shared feed says a followed collection changed
   * (bookkeeping commits wake no session), read by the session itself from its cursor.
   */
  async #follow(from: number, all: string[]): Promise<void> {
    const edge = this.#edge;
    const waiter: FeedWaiter = { collections: new Set(all), dirty: true, wake: undefined };
    const onAbort = (): void => {
      const wake = waiter.wake;
      waiter.wake = undefined;
      wake?.();
    };
    const over = (): boolean => this.#closed || edge.feed.closed;
    edge.feed.attach(waiter);
    this.#abort.signal.addEventListener('abort', onAbort, { once: true });
    try {
      let at = from;
      while (!over()) {
        if (!waiter.dirty) {
          await new Promise<void>((resolve) => (waiter.wake = resolve));
          continue;
        }
        // Cleared before the read: a commit that lands during the read wakes the session again.
        waiter.dirty = false;
        let page: ChangePage;
        try {
          page = await edge.store.changesSince(at, { collections: all, limit: edge.options.pageSize });
        } catch (e) {
          if (over()) return;
          throw e;
        }
        if (over()) return;
        if (page.hasMore) waiter.dirty = true;
        if (page.changes.length === 0) continue;
        await this.#sendPage(all, at, page.cursor, page, page.hasMore ? undefined : page.cursor);
        at = page.cursor;
      }
    } finally {
      edge.feed.detach(waiter);
      this.#abort.signal.removeEventListener('abort', onAbort);
    }
  }

  /**
   * The sync id of the newest change of `collections` at or below `last`, so progress counts
   * only what the Frontend follows (the Edge's own bookkeeping, such as acknowledgement records,
   * takes sync ids no page carries). One read when the backlog fits a page, else a binary search
   * of single-change reads.
   */
  async #followedHead(collections: readonly string[], from: number, last: number): Promise<number> {
    const store = this.#edge.store;
    const first = await store.changesSince(from, { collections, limit: this.#edge.options.pageSize, afterCompaction: true });
    const within = first.changes.filter((c) => c.syncId <= last);
    let lo = within.length > 0 ? (within[within.length - 1] as { syncId: number }).syncId : from;
    if (!first.hasMore || within.length < first.changes.length) return lo;
    // A followed change is at `lo`; find the last one in (lo, last].
    let hi = last;
    while (lo < hi && !this.#closed) {
      const mid = lo + Math.ceil((hi - lo) / 2);
      const probe = await store.changesSince(mid - 1, { collections, limit: 1, afterCompaction: true });
      const next = probe.changes[0]?.syncId;
      if (next !== undefined && next <= hi) lo = next;
      else hi = mid - 1;
    }
    return lo;
  }

  /**
   * True while no compaction happened since the session checked the Frontend's cursors: pages
   * read since then lost no tombstone, so a cursor they produced stays good below the watermark.
   * Otherwise the read checks as usual and a Frontend that may have missed tombstones resets.
   */
  async #read(at: number, collections: string[]): Promise<ChangePage> {
    const store = this.#edge.store;
    const same = async (): Promise<boolean> => (await store.compactedThrough()) === this.#compactedAtStart;
    const before = await same();
    const page = await store.changesSince(at, { collections, limit: this.#edge.options.pageSize, afterCompaction: before });
    // A compaction that ran between the check and the read may have taken tombstones of it.
    if (before && !(await same())) throw new ResetRequiredError('the Edge compacted tombstones during the read: resync');
    return page;
  }

  /** Brings every collection to the cursor of the most advanced ones, lowest group first. */
  async #catchUp(cursors: Map<string, number>): Promise<void> {
    for (;;) {
      const levels = [...new Set(cursors.values())].sort((a, b) => a - b);
      if (levels.length <= 1 || this.#closed) return;
      const [low, next] = levels as [number, number];
      const group = [...cursors].filter(([, n]) => n === low).map(([c]) => c);
      let at = low;
      while (at < next && !this.#closed) {
        const page = await this.#read(at, group);
        const within = page.changes.filter((c) => c.syncId <= next);
        // Past `next`, or nothing more at all: the group has everything up to `next`.
        const reached = within.length < page.changes.length || !page.hasMore;
        const to = reached ? next : page.cursor;
        await this.#sendPage(group, at, to, { ...page, changes: within });
        at = to;
      }
      for (const c of group) cursors.set(c, next);
    }
  }

  /** Sends the changes of `cs` in (start, to], split into frames of bounded size. */
  async #sendPage(cs: readonly string[], start: number, to: number, page: ChangePage, knownHead?: number): Promise<void> {
    const edge = this.#edge;
    // `head` tells the Frontend how far behind it is; equal to `to` on the page that caught up.
    // Otherwise the newest followed change known, at least the next id (bookkeeping ids not counted).
    const head = knownHead ?? Math.max(to + 1, this.#head);
    let from = start;
    // Each change is serialized once: its text both measures the page and goes into the frame.
    let part: string[] = [];
    let lastS = from;
    let size = 0;
    const flush = async (end: number): Promise<void> => {
      await this.#waitCredit();
      if (this.#closed) return;
      if (this.#pageNo === this.#acked) this.#ackWaitSince = Date.now();
      this.#pageNo++;
      this.#unacked.set(this.#pageNo, { cs, to: end });
      const envelope = JSON.stringify({ t: 'page', n: this.#pageNo, cs, from, to: end, head });
      // The same object as encode() would give, with the changes' texts spliced in.
      this.#sendText(`${envelope.slice(0, -1)},"changes":[${part.join(',')}]}`);
      edge.stats.pagesSent++;
      edge.stats.changesSent += part.length;
      from = end;
      part = [];
      size = 0;
    };
    for (const c of page.changes) {
      const doc = this.#schemas === undefined ? c.doc : this.#schemas.toPeer(c.collection, c.doc);
      const wire: WireChange = { c: c.collection, id: c.id, s: c.syncId, v: c.version, d: c.deleted, doc };
      const text = JSON.stringify(packChange(wire, this.#version));
      if (part.length > 0 && size + text.length > edge.options.pageBytes) await flush(lastS);
      part.push(text);
      lastS = c.syncId;
      size += text.length;
    }
    await flush(to);
  }

  /** What a write needs of this session (see edge-writes.ts). */
  #writer(): WriteSession {
    return {
      edge: this.#edge,
      client: this.#client as string,
      frontendId: this.#auth?.frontendId,
      version: this.#version,
      collections: this.#collections,
      schemas: this.#schemas as PeerSchemas,
      grant: this.#grant,
      replica: this.#replica,
    };
  }

  async #waitCredit(): Promise<void> {
    while (!this.#closed && this.#pageNo - this.#acked >= this.#edge.options.window) {
      const acked = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), this.#edge.options.ackTimeoutMs);
        this.#credit = () => {
          clearTimeout(timer);
          resolve(true);
        };
      });
      this.#credit = undefined;
      if (!acked) await this.close('no acknowledgement in time');
    }
  }
}
