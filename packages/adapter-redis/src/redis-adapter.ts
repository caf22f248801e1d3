import { createHash } from 'node:crypto';
import { Cluster, Command, Redis } from 'ioredis';
import type {
  AdapterCapabilities,
  CommitFailure,
  CommitRequest,
  CommitResult,
  DocKey,
  IndexProbe,
  IndexSpec,
  JsonObject,
  SequenceState,
  StorageAdapter,
  StoredRecord,
  WriteOp,
} from '@cse/core';
import { BackendError, ClosedError, CommitListeners, ValidationError, assertCommitRequest, defineCapabilities, isCseError, planCommit, toBackendError } from '@cse/core';
import { Keys } from './keys.js';
import type { RedisAdapterOptions } from './options.js';
import { clientOptions, clusterOptions } from './options.js';
import { CHANGES, COMMIT, COMPACT, GET_MANY, SCAN_COLLECTION } from './scripts.js';
import type { IndexState } from './indexes.js';
import { DECLARE_INDEX, DROP_INDEX, FILL_INDEX, FIND_INDEXED, READY_INDEX, READ_INDEXES, entriesArg, fillArgs, parseState, probeArgs } from './indexes.js';

type Client = Redis | Cluster;
type Fields = readonly (string | null)[];

const KIND = { put: 'p', delete: 'd', check: 'c' } as const;
const EXPECT = { absent: 'a', exists: 'e', version: 'v' } as const;

/** Turns a document hash (fields in RECORD_FIELDS order) into a record, as core's buildRecord lays it out. */
function toRecord(f: Fields): StoredRecord | undefined {
  const [collection, idJson, s, v, x, createdAt, updatedAt, deletedAt, body] = f;
  if (collection == null || idJson == null || s == null || v == null) return undefined;
  const id = JSON.parse(idJson) as string;
  const syncId = Number(s);
  const version = Number(v);
  const deleted = x === '1';
  let doc: JsonObject;
  if (deleted) {
    doc = { id, _sync_id: syncId, _version: version, _created_at: createdAt ?? '', _updated_at: updatedAt ?? '', _deleted: true, _deleted_at: deletedAt ?? '' };
  } else {
    // The parsed body is a fresh object of its own: the metadata goes straight onto it (the body
    // holds `id` already, so the key order is the one core's buildRecord gives).
    doc = JSON.parse(body ?? '{}') as JsonObject;
    doc.id = id;
    doc._sync_id = syncId;
    doc._version = version;
    doc._created_at = createdAt ?? '';
    doc._updated_at = updatedAt ?? '';
  }
  return { collection, id, syncId, version, deleted, doc };
}

/** What the commit script saw before a write: just enough for `planCommit`. */
function seen(write: WriteOp, v: unknown, x: unknown, c: unknown): StoredRecord | undefined {
  if (typeof v !== 'string' || v === '') return undefined;
  const version = Number(v);
  return { collection: write.collection, id: write.id, syncId: 0, version, deleted: x === '1', doc: { _created_at: String(c) } };
}

/**
 * A CSE storage adapter on Redis or Redis Cluster (ioredis). Every commit, multi-get, delta
 * page and compaction is one Lua script, so each is atomic and consistent. See README.md.
 */
export class RedisAdapter implements StorageAdapter {
  readonly capabilities: Readonly<AdapterCapabilities> = defineCapabilities({
    persistent: true,
    crashSafe: true,
    multiProcess: true,
    compaction: true,
    changeFeed: true,
    sequencedChanges: true,
    indexes: true,
  });

  /** The ioredis client (yours if you passed `client`). */
  readonly client: Client;
  readonly namespace: string;
  readonly #keys: Keys;
  readonly #owned: boolean;
  readonly #listeners = new CommitListeners();
  /** The pub/sub connection, while someone listens. */
  #subscriber: Client | undefined;
  /** The index list as of its epoch; dropped when a commit finds the epoch moved. */
  #indexState: IndexState | undefined;
  #closed = false;

  /** @throws `VALIDATION` for a bad namespace, or not exactly one of `client` and `url`. */
  constructor(options: RedisAdapterOptions) {
    this.#keys = new Keys(options.namespace);
    this.namespace = options.namespace;
    if ((options.client === undefined) === (options.url === undefined)) {
      throw new ValidationError('RedisAdapter needs exactly one of `client` and `url`');
    }
    if (options.client !== undefined) {
      this.client = options.client;
      this.#owned = false;
      return;
    }
    const url = options.url as string;
    if (options.cluster === true) {
      const { hostname, port } = new URL(url);
      this.client = new Cluster([{ host: hostname, port: Number(port || 6379) }], clusterOptions(options.commandTimeoutMs));
    } else {
      this.client = new Redis(url, clientOptions(options.commandTimeoutMs));
    }
    // Failures reach the caller through the rejected commands; without a listener ioredis
    // would also print every reconnect error.
    this.client.on('error', () => {});
    this.#owned = true;
  }

  #open(): void {
    if (this.#closed) throw new ClosedError('the Redis adapter is closed');
  }

  /**
   * Runs a script by EVALSHA, loading it with EVAL when the server does not know it yet. Keys and
   * arguments travel as arrays (ioredis flattens them without a call per element): a commit of
   * 100 000 writes has about a million, far more than one call can take as spread arguments.
   * `timeoutMs` replaces the client's command timeout for this command.
   */
  async #run(script: string, keys: readonly string[], args: readonly string[], what: string, timeoutMs?: number): Promise<unknown> {
    this.#open();
    try {
      try {
        return await this.#send('evalsha', sha1(script), keys, args, timeoutMs);
      } catch (e) {
        if (!(e instanceof Error) || !e.message.startsWith('NOSCRIPT')) throw e;
        return await this.#send('eval', script, keys, args, timeoutMs);
      }
    } catch (e) {
      throw toBackendError(e, `redis ${what} failed`);
    }
  }

  #send(name: 'evalsha' | 'eval', script: string, keys: readonly string[], args: readonly string[], timeoutMs: number | undefined): Promise<unknown> {
    // What the client's own `evalsha` would build: reply as text, keys with the client's prefix
    // (added here: ioredis would find the keys by a spread call that overflows, see ScriptCommand).
    const prefix = this.client.options.keyPrefix;
    const prefixed = prefix === undefined || prefix === '' ? (keys as string[]) : keys.map((k) => prefix + k);
    const command = new ScriptCommand(name, [script, keys.length, prefixed, args as string[]], prefixed[0]);
    // Set first, so the client's own timeout (set only when none is) leaves it alone.
    if (timeoutMs !== undefined) command.setTimeout(timeoutMs);
    return this.client.sendCommand(command) as Promise<unknown>;
  }

  /**
   * The timeout of a commit of `writes` writes: the client's command timeout, longer for a large
   * batch (a 100 000-document script runs for seconds on a busy server); none when the client
   * has none.
   */
  #commitTimeout(writes: number): number | undefined {
    const base = this.client instanceof Cluster ? this.client.options.redisOptions?.commandTimeout : this.client.options.commandTimeout;
    return base === undefined ? undefined : Math.ceil(base * (1 + writes / 2000));
  }

  /**
   * @throws `VALIDATION` for a malformed request (nothing sent); `BACKEND` with
   *   `details.outcome: 'unknown'` when the script may have run although no reply came (a
   *   timeout, a lost connection): read the documents to learn whether it was applied.
   */
  async commit(request: CommitRequest): Promise<CommitResult> {
    // The script trusts its arguments: a malformed expectation must never reach it.
    assertCommitRequest(request);
    const keys = [this.#keys.meta, this.#keys.index, this.#keys.collections];
    const args = [request.now, String(request.writes.length)];
    for (const w of request.writes) {
      const body = w.kind === 'put' ? JSON.stringify(w.body ?? {}) : '';
      const member = this.#keys.member(w.collection, w.id);
      keys.push(this.#keys.memberDoc(member), this.#keys.collection(w.collection));
      const expect = w.expect === undefined ? '' : EXPECT[w.expect.kind];
      const version = w.expect?.kind === 'version' ? String(w.expect.version) : '';
      args.push(KIND[w.kind], expect, version, w.collection, member, JSON.stringify(w.id), body);
    }
    args.push(this.#keys.changes);
    let reply: unknown[];
    for (;;) {
      const state = (this.#indexState ??= await this.#readIndexes());
      const ix = request.writes.map((w) => entriesArg(state, w.collection, this.#keys.member(w.collection, w.id), w.kind === 'put' ? w.body : undefined));
      try {
        reply = (await this.#run(COMMIT, keys, args.concat(state.epoch, ix), 'commit', this.#commitTimeout(request.writes.length))) as unknown[];
      } catch (e) {
        throw outcomeUnknown(e);
      }
      if (reply[0] !== 2) break;
      this.#indexState = undefined; // another client declared or dropped an index: compute again
    }
    if (reply[0] === 0) {
      const failures: CommitFailure[] = [];
      for (let i = 1; i < reply.length; i += 2) failures.push({ index: Number(reply[i]), current: toRecord(reply[i + 1] as Fields) });
      return { ok: false, failures };
    }
    // The script wrote the records; core builds the same records from what the script saw, so
    // what we return is exactly what planCommit would. Nothing is parsed back: planCommit puts
    // each body into a new document object (the bodies are the Store's own copies).
    const last = Number(reply[1]);
    const writes = request.writes;
    const prevs = new Array<StoredRecord | undefined>(writes.length);
    let taken = 0;
    for (let i = 0; i < writes.length; i++) {
      const w = writes[i] as WriteOp;
      prevs[i] = seen(w, reply[2 + 3 * i], reply[3 + 3 * i], reply[4 + 3 * i]);
      if (w.kind !== 'check') taken++;
    }
    const plan = planCommit(request, prevs, last - taken);
    if (!plan.result.ok || plan.lastSyncId !== last) throw new BackendError('redis commit: the script and planCommit disagree');
    // Own commits wake at once; the published message reaches the other clients (and us again).
    if (taken > 0) this.#listeners.notify();
    return plan.result;
  }

  async getMany(keys: readonly DocKey[]): Promise<(StoredRecord | undefined)[]> {
    this.#open();
    if (keys.length === 0) return [];
    const reply = (await this.#run(GET_MANY, keys.map((k) => this.#keys.doc(k.collection, k.id)), [], 'getMany')) as Fields[];
    return reply.map(toRecord);
  }

  async scanCollection(collection: string): Promise<StoredRecord[]> {
    const reply = (await this.#run(SCAN_COLLECTION, [this.#keys.collection(collection)], [this.#keys.prefix], 'scanCollection')) as Fields[];
    return records(reply);
  }

  async changes(after: number, options: { readonly limit: number; readonly collections?: readonly string[] }): Promise<StoredRecord[]> {
    this.#open();
    if (options.limit <= 0 || options.collections?.length === 0) return [];
    return (await this.#page(after, options)).records;
  }

  /** The page and the counter from one run of the CHANGES script: one round trip, one state. */
  async changesWithSequence(after: number, options: { readonly limit: number; readonly collections?: readonly string[] }): Promise<{ records: StoredRecord[]; sequence: SequenceState }> {
    this.#open();
    if (options.limit <= 0 || options.collections?.length === 0) return { records: [], sequence: await this.sequence() };
    return this.#page(after, options);
  }

  async #page(after: number, options: { readonly limit: number; readonly collections?: readonly string[] }): Promise<{ records: StoredRecord[]; sequence: SequenceState }> {
    const keys = [this.#keys.meta, this.#keys.index, ...(options.collections ?? []).map((c) => this.#keys.collection(c))];
    // Redis wants an integer LIMIT; a caller asking for "everything" may pass Infinity.
    const limit = Math.min(Math.floor(options.limit), 2 ** 31 - 1);
    const args = [this.#keys.prefix, String(after), String(limit)];
    const reply = (await this.#run(CHANGES, keys, args, 'changes')) as unknown[];
    return {
      records: records(reply.slice(2) as Fields[]),
      sequence: { lastSyncId: Number(reply[0]), compactedThrough: Number(reply[1]) },
    };
  }

  async listCollections(): Promise<string[]> {
    this.#open();
    try {
      return (await this.client.smembers(this.#keys.collections)).sort();
    } catch (e) {
      throw toBackendError(e, 'redis listCollections failed');
    }
  }

  async sequence(): Promise<SequenceState> {
    this.#open();
    try {
      const [last, compacted] = await this.client.hmget(this.#keys.meta, 'last', 'compacted');
      return { lastSyncId: Number(last ?? 0), compactedThrough: Number(compacted ?? 0) };
    } catch (e) {
      throw toBackendError(e, 'redis sequence failed');
    }
  }

  async compact(through: number): Promise<number> {
    const keys = [this.#keys.meta, this.#keys.index, this.#keys.collections];
    return Number(await this.#run(COMPACT, keys, [this.#keys.prefix, String(Math.floor(through))], 'compact'));
  }

  get #indexKeys(): { indexes: string; set: (collection: string, field: string) => string } {
    const prefix = this.#keys.prefix;
    return { indexes: `${prefix}indexes`, set: (c, f) => `${prefix}x:${c}:${f}` };
  }

  async #readIndexes(): Promise<IndexState> {
    return parseState(await this.#run(READ_INDEXES, [this.#keys.meta, this.#indexKeys.indexes], [], 'index list read'));
  }

  /** Resumable: declared first (commits keep it from then on), then filled, then ready. See `indexes.ts`. */
  async createIndex(collection: string, field: string): Promise<void> {
    const { indexes, set } = this.#indexKeys;
    const name = `${collection}:${field}`;
    const state = await this.#run(DECLARE_INDEX, [this.#keys.meta, indexes], [name], 'createIndex');
    if (state === 'ready') return;
    this.#indexState = undefined;
    const member = (id: string): string => this.#keys.member(collection, id);
    // Pages by sync id, so no script runs long: a document written meanwhile moves above the
    // cursor (and its commit already wrote its entries), none is skipped.
    for (let after = 0; ; ) {
      const page = await this.changes(after, { limit: 500, collections: [collection] });
      if (page.length === 0) break;
      after = page[page.length - 1]!.syncId;
      const triples = fillArgs(page, field, member);
      if (triples.length > 0) await this.#run(FILL_INDEX, [indexes, set(collection, field)], [name, this.#keys.prefix, field, ...triples], 'createIndex');
    }
    await this.#run(READY_INDEX, [indexes], [name], 'createIndex');
  }

  async dropIndex(collection: string, field: string): Promise<void> {
    const { indexes, set } = this.#indexKeys;
    await this.#run(DROP_INDEX, [this.#keys.meta, indexes, set(collection, field)], [`${collection}:${field}`], 'dropIndex');
    this.#indexState = undefined;
  }

  async listIndexes(): Promise<IndexSpec[]> {
    const state = await this.#readIndexes();
    const out: IndexSpec[] = [];
    for (const [collection, fields] of state.fields) for (const field of fields) out.push({ collection, field });
    return out.sort((a, b) => (a.collection === b.collection ? (a.field < b.field ? -1 : 1) : a.collection < b.collection ? -1 : 1));
  }

  async findIndexed(collection: string, probes: readonly IndexProbe[]): Promise<StoredRecord[] | undefined> {
    const reply = (await this.#run(FIND_INDEXED, [this.#indexKeys.indexes], [this.#keys.prefix, collection, ...probeArgs(probes)], 'findIndexed')) as unknown[];
    if (reply[0] !== 1) return undefined;
    return records(reply.slice(1) as Fields[]);
  }

  /** The pub/sub connection while someone listens (for tests and diagnostics), else undefined. */
  get subscriber(): Client | undefined {
    return this.#subscriber;
  }

  /**
   * Listeners hear this adapter's commits at once and other clients' through the commit
   * script's PUBLISH on the namespace's channel, received on a dedicated connection (a
   * `duplicate()` of the client, also of a client you passed) that exists only while someone
   * listens. Each time that connection is ready and subscribed (the first time and after every
   * reconnect) the listeners are called once: commits during the gap were not published to us.
   */
  subscribe(listener: () => void): () => void {
    if (this.#closed) return () => undefined;
    const remove = this.#listeners.add(listener);
    this.#subscriber ??= this.#openSubscriber();
    return () => {
      remove();
      if (this.#listeners.size === 0) this.#closeSubscriber();
    };
  }

  #openSubscriber(): Client {
    const sub = this.client.duplicate();
    const channel = this.#keys.changes;
    sub.on('error', () => {}); // it reconnects by itself; commands report real failures
    sub.on('message', (from: string) => {
      if (from === channel) this.#listeners.notify();
    });
    // SUBSCRIBE again on every ready (ioredis also resubscribes): its reply means we are
    // subscribed, and only from then on can no commit go unseen. Then one catch-up call.
    sub.on('ready', () => {
      sub.subscribe(channel).then(
        () => {
          if (this.#subscriber === sub) this.#listeners.notify();
        },
        () => {}, // the connection dropped again: the next ready retries
      );
    });
    if (sub.status === 'wait') sub.connect().catch(() => {}); // a lazyConnect client's copy
    return sub;
  }

  #closeSubscriber(): void {
    const sub = this.#subscriber;
    this.#subscriber = undefined;
    sub?.disconnect();
  }

  /** Closes the client if the adapter created it (from `url`); a client you passed stays open. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners.clear();
    this.#closeSubscriber();
    if (!this.#owned) return;
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }
}

/** Failures that show the command never reached the server (ioredis messages): nothing was applied. */
const NOT_SENT = /max retries per request|isn't writeable|Connection in subscriber mode/;

/**
 * A commit that failed without an answer from Redis (a timeout, a connection lost after the
 * command went out) may have been applied: say so instead of reporting a plain failure.
 */
function outcomeUnknown(e: unknown): unknown {
  if (!isCseError(e, 'BACKEND')) return e;
  const cause = e.cause;
  // An error reply is the server's answer (a refused command or a script that stopped; the
  // commit script checks everything before its first write), not a lost one.
  if (cause instanceof Error && (cause.name === 'ReplyError' || NOT_SENT.test(cause.message))) return e;
  return new BackendError(`${e.message} (outcome unknown: the commit may have been applied; read its documents to find out)`, {
    cause,
    details: { ...e.details, outcome: 'unknown' },
  });
}

function records(reply: readonly Fields[]): StoredRecord[] {
  const out: StoredRecord[] = [];
  for (const f of reply) {
    const r = toRecord(f);
    if (r !== undefined) out.push(r);
  }
  return out;
}

/**
 * EVAL/EVALSHA with the Cluster slot taken from its first key. ioredis would list every key
 * position in one spread call (`push(...indexes)`), which overflows the stack at about 120 000
 * keys; a 100 000-write commit has 200 000. Every key of one script shares the namespace's hash
 * tag, so the first key names the slot.
 */
class ScriptCommand extends Command {
  readonly #firstKey: string | undefined;

  constructor(name: 'evalsha' | 'eval', args: (string | number | string[])[], firstKey: string | undefined) {
    super(name, args, { replyEncoding: 'utf8' });
    this.#firstKey = firstKey;
  }

  override getSlot(): number {
    // A one-key command computes the slot exactly as ioredis would for the whole script.
    return this.#firstKey === undefined ? (null as unknown as number) : new Command('get', [this.#firstKey]).getSlot();
  }
}

const shas = new Map<string, string>();
function sha1(script: string): string {
  let sha = shas.get(script);
  if (sha === undefined) {
    sha = createHash('sha1').update(script).digest('hex');
    shas.set(script, sha);
  }
  return sha;
}
