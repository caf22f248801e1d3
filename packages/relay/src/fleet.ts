/**
 * The fleet's shared state in Redis (ioredis): routing and admission only, never a payload.
 *
 * Keys, all of one Edge under the hash tag `{<edgeId>}` so a Redis Cluster keeps them in one slot:
 * - `<prefix>{e}:home`   "<nodeId> <spki>" with a lease (PX) its home node renews: the directory.
 * - `<prefix>{e}:rev`    set of revoked Frontend ids, living as long as the home entry.
 * - `<prefix>{e}:t:<h>`  "offered" | "used", PX = the ticket's lifetime: single use fleet-wide.
 * - `<prefix>{e}:s`      sorted set session id -> lease expiry: `maxFrontendsPerEdge` fleet-wide.
 * Channels: `<prefix>node:<nodeId>` (a node's requests: open a session, session gone) and
 * `<prefix>revoke` (cut this Frontend's sessions on every node).
 */
import { Cluster, Redis } from 'ioredis';
import type { ClusterOptions, RedisOptions } from 'ioredis';

export interface FleetConfig {
  readonly url: string;
  readonly cluster: boolean;
  readonly prefix: string;
  readonly nodeId: string;
  readonly leaseMs: number;
  readonly commandTimeoutMs: number;
}

/** What the nodes tell each other over pub/sub. */
export type FleetMessage =
  | { readonly t: 'open'; readonly edgeId: string; readonly sid: string; readonly pairing: boolean; readonly frontendId?: string; readonly url: string; readonly from: string }
  | { readonly t: 'gone'; readonly sid: string }
  | { readonly t: 'used'; readonly edgeId: string; readonly hash: string }
  | { readonly t: 'revoke'; readonly edgeId: string; readonly ids: readonly string[] };

export interface FleetEvents {
  message(m: FleetMessage): void;
  /** The connection to Redis is (again) usable: write the local state back (Redis may have lost it). */
  up(): void;
  down(): void;
}

const RENEW_HOME = `
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] or v == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
  return 1
end
return 0`;

const RELEASE_HOME = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

const OFFER = `
if redis.call('GET', KEYS[1]) == 'used' then return 0 end
redis.call('SET', KEYS[1], 'offered', 'PX', ARGV[1])
return 1`;

const CONSUME = `
if redis.call('GET', KEYS[1]) == 'offered' then
  redis.call('SET', KEYS[1], 'used', 'KEEPTTL')
  return 1
end
return 0`;

const MARK_USED = `
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('SET', KEYS[1], 'used', 'PX', ttl) else redis.call('SET', KEYS[1], 'used', 'PX', ARGV[1]) end
return 1`;

// Server time, so the nodes' clocks do not matter.
const LEASE_SESSION = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) == false and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) * 2)
return 1`;

type Client = Redis | Cluster;
type Scripted = Client & {
  renewHome(home: string, rev: string, value: string, ms: number): Promise<number>;
  releaseHome(home: string, value: string): Promise<number>;
  offerTicket(key: string, ms: number): Promise<number>;
  consumeTicket(key: string): Promise<number>;
  markUsed(key: string, ms: number): Promise<number>;
  leaseSession(key: string, sid: string, max: number, ms: number): Promise<number>;
};

function connect(cfg: FleetConfig): Client {
  const redisOptions: RedisOptions = {
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    enableOfflineQueue: false,
    commandTimeout: cfg.commandTimeoutMs,
    connectTimeout: cfg.commandTimeoutMs,
    retryStrategy: (times) => Math.min(times * 50, 500),
    lazyConnect: true,
  };
  // ioredis re-subscribes by itself after a reconnect, and leaves that command's rejection
  // unhandled: with Redis paused past `commandTimeout` it timed out and the node crashed. The
  // fleet subscribes again itself on 'ready' (`#check`), where a failure only marks it down.
  // (A Cluster's subscriber catches its own re-subscription.)
  if (!cfg.cluster) return new Redis(cfg.url, { ...redisOptions, autoResubscribe: false });
  const u = new URL(cfg.url);
  const options: ClusterOptions = {
    redisOptions,
    enableOfflineQueue: false,
    clusterRetryStrategy: (times) => Math.min(times * 50, 500),
    maxRedirections: 16,
    lazyConnect: true,
  };
  return new Cluster([{ host: u.hostname, port: Number(u.port || 6379) }], options);
}

function scripted(c: Client): Scripted {
  c.defineCommand('renewHome', { numberOfKeys: 2, lua: RENEW_HOME });
  c.defineCommand('releaseHome', { numberOfKeys: 1, lua: RELEASE_HOME });
  c.defineCommand('offerTicket', { numberOfKeys: 1, lua: OFFER });
  c.defineCommand('consumeTicket', { numberOfKeys: 1, lua: CONSUME });
  c.defineCommand('markUsed', { numberOfKeys: 1, lua: MARK_USED });
  c.defineCommand('leaseSession', { numberOfKeys: 1, lua: LEASE_SESSION });
  return c as Scripted;
}

const quiet = (): undefined => undefined;

export interface Home {
  readonly node: string;
  readonly spki: string;
}

/** A node's link to the fleet: one command connection and one subscriber connection. */
export class Fleet {
  readonly #cfg: FleetConfig;
  readonly #redis: Scripted;
  readonly #sub: Client;
  readonly #events: FleetEvents;
  #up = false;
  #closed = false;
  /** Commands sent to Redis, and how many of them were lease renewals (the load at rest). */
  commands = 0;
  renewals = 0;
  errors = 0;

  constructor(cfg: FleetConfig, events: FleetEvents) {
    this.#cfg = cfg;
    this.#events = events;
    this.#redis = scripted(connect(cfg));
    this.#sub = connect(cfg);
    for (const c of [this.#redis, this.#sub]) {
      c.on('error', quiet);
      c.on('ready', () => void this.#check());
      c.on('close', () => this.#setUp(false));
      c.on('end', () => this.#setUp(false));
    }
    this.#sub.on('message', (_channel: string, text: string) => {
      let m: FleetMessage;
      try {
        m = JSON.parse(text) as FleetMessage;
      } catch {
        return;
      }
      this.#events.message(m);
    });
  }

  get up(): boolean {
    return this.#up;
  }

  get nodeId(): string {
    return this.#cfg.nodeId;
  }

  /** Connects both clients and subscribes; resolves once in the fleet, rejects after `timeoutMs`. */
  async start(timeoutMs: number): Promise<void> {
    await Promise.all([this.#redis.connect(), this.#sub.connect()].map((p) => p.catch(quiet)));
    const deadline = Date.now() + timeoutMs;
    while (!this.#up) {
      if (Date.now() > deadline) throw new Error(`cannot join the fleet: Redis at ${this.#cfg.url} is not reachable`);
      await this.#check();
      if (!this.#up) await new Promise((r) => setTimeout(r, 100));
    }
  }

  #setUp(up: boolean): void {
    if (this.#closed || up === this.#up) return;
    this.#up = up;
    if (up) this.#events.up();
    else this.#events.down();
  }

  #checking: Promise<void> | undefined;

  /** Subscribes (again) and pings: up when both answer. */
  #check(): Promise<void> {
    // Only once both connections are ready: SUBSCRIBE is accepted while a connection still runs
    // its ready check, and puts it in subscriber mode, so the check's INFO fails and ioredis drops
    // the connection (a down-up flap at every start and reconnect). The other's 'ready' checks again.
    if (this.#redis.status !== 'ready' || this.#sub.status !== 'ready') return Promise.resolve();
    this.#checking ??= (async () => {
      try {
        await this.#sub.subscribe(this.#channel(this.#cfg.nodeId), `${this.#cfg.prefix}revoke`);
        await this.#redis.ping();
        this.#setUp(true);
      } catch {
        this.#setUp(false);
      } finally {
        this.#checking = undefined;
      }
    })();
    return this.#checking;
  }

  /** Runs `f` against Redis; a failure (down, timeout) marks the node degraded and rethrows. */
  async #run<T>(n: number, f: (r: Scripted) => Promise<T>): Promise<T> {
    if (!this.#up) throw new Error('not in the fleet');
    this.commands += n;
    try {
      return await f(this.#redis);
    } catch (e) {
      this.errors++;
      if (!this.#closed && this.#redis.status !== 'ready') this.#setUp(false);
      else if (e instanceof Error && /timed out/i.test(e.message)) this.#setUp(false);
      throw e;
    }
  }

  #key(edgeId: string, what: string): string {
    return `${this.#cfg.prefix}{${edgeId}}:${what}`;
  }

  #channel(nodeId: string): string {
    return `${this.#cfg.prefix}node:${nodeId}`;
  }

  #value(spki: string): string {
    return `${this.#cfg.nodeId} ${spki}`;
  }

  /** Makes this node the Edge's home (the newest registration wins) with its revoked ids. */
  async claim(edgeId: string, spki: string, revoked: readonly string[]): Promise<void> {
    const ms = this.#cfg.leaseMs;
    await this.#run(revoked.length > 0 ? 3 : 1, async (r) => {
      await r.set(this.#key(edgeId, 'home'), this.#value(spki), 'PX', ms);
      if (revoked.length > 0) {
        await r.sadd(this.#key(edgeId, 'rev'), ...revoked);
        await r.pexpire(this.#key(edgeId, 'rev'), ms);
      }
    });
  }

  /** Renews the home lease; false when another node holds the Edge now. */
  async renew(edgeId: string, spki: string): Promise<boolean> {
    this.renewals++;
    return (await this.#run(1, (r) => r.renewHome(this.#key(edgeId, 'home'), this.#key(edgeId, 'rev'), this.#value(spki), this.#cfg.leaseMs))) === 1;
  }

  async release(edgeId: string, spki: string): Promise<void> {
    await this.#run(1, (r) => r.releaseHome(this.#key(edgeId, 'home'), this.#value(spki)));
  }

  async home(edgeId: string): Promise<Home | undefined> {
    const v = await this.#run(1, (r) => r.get(this.#key(edgeId, 'home')));
    if (v === null) return undefined;
    const at = v.indexOf(' ');
    return at < 0 ? undefined : { node: v.slice(0, at), spki: v.slice(at + 1) };
  }

  async revoke(edgeId: string, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.#run(3, async (r) => {
      await r.sadd(this.#key(edgeId, 'rev'), ...ids);
      await r.pexpire(this.#key(edgeId, 'rev'), this.#cfg.leaseMs);
      await r.publish(`${this.#cfg.prefix}revoke`, JSON.stringify({ t: 'revoke', edgeId, ids }));
    });
  }

  async isRevoked(edgeId: string, frontendId: string): Promise<boolean> {
    return (await this.#run(1, (r) => r.sismember(this.#key(edgeId, 'rev'), frontendId))) === 1;
  }

  /** Offers a ticket fleet-wide; false when it was used already (it stays used). */
  async offer(edgeId: string, hash: string, ttlMs: number): Promise<boolean> {
    return (await this.#run(1, (r) => r.offerTicket(this.#key(edgeId, `t:${hash}`), Math.max(1, Math.ceil(ttlMs))))) === 1;
  }

  /** True exactly once per offered ticket, fleet-wide. */
  async consume(edgeId: string, hash: string): Promise<boolean> {
    return (await this.#run(1, (r) => r.consumeTicket(this.#key(edgeId, `t:${hash}`)))) === 1;
  }

  /** A ticket consumed while Redis was away: marked used so no node takes it again. */
  async markUsed(edgeId: string, hash: string, ttlMs: number): Promise<void> {
    await this.#run(1, (r) => r.markUsed(this.#key(edgeId, `t:${hash}`), Math.max(1, Math.ceil(ttlMs))));
  }

  /** Takes (or, with `renewal`, renews) a session's place among the Edge's `max`; false when full. */
  async lease(edgeId: string, sid: string, max: number, renewal = false): Promise<boolean> {
    if (renewal) this.renewals++;
    return (await this.#run(1, (r) => r.leaseSession(this.#key(edgeId, 's'), sid, max, this.#cfg.leaseMs))) === 1;
  }

  async unlease(edgeId: string, sid: string): Promise<void> {
    await this.#run(1, (r) => r.zrem(this.#key(edgeId, 's'), sid));
  }

  async send(nodeId: string, m: FleetMessage): Promise<void> {
    await this.#run(1, (r) => r.publish(this.#channel(nodeId), JSON.stringify(m)));
  }

  /** A round trip; marks the node degraded when it fails, up again (with `up()`) when it works. */
  async heartbeat(): Promise<void> {
    if (this.#up) {
      this.renewals++;
      await this.#run(1, (r) => r.ping()).catch(quiet);
    } else await this.#check();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#up = false;
    this.#redis.disconnect();
    this.#sub.disconnect();
    await Promise.resolve();
  }
}
