/**
 * `cse-relay`: runs a relay until SIGINT/SIGTERM.
 *
 *   cse-relay --port 8443 --host 0.0.0.0 --tls-cert cert.pem --tls-key key.pem
 *
 *   cse-relay --redis redis://10.0.0.5:6379 --public-url wss://relay-2.example.net:8443 ...
 *
 * Prints one line when listening (`cse-relay listening on ws://127.0.0.1:8443`), then one line
 * per connection event on stderr with --verbose (JSON lines with --log-format json), and a
 * one-line summary every --stats-interval ms. Exit codes: 0 stopped, 2 usage error.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { RelayOptions } from './options.js';
import { DEFAULTS } from './options.js';
import { startRelay } from './relay.js';

const USAGE = `usage: cse-relay [options]
  --port <n>                    port (default ${DEFAULTS.port}: a free one, printed)
  --host <addr>                 interface (default ${DEFAULTS.host})
  --tls-cert <file>             PEM certificate: serve wss:// (with --tls-key)
  --tls-key <file>              PEM private key
  --max-frame-bytes <n>         largest frame (default ${DEFAULTS.maxFrameBytes})
  --max-frontends-per-edge <n>  Frontend sessions per Edge (default ${DEFAULTS.maxFrontendsPerEdge})
  --max-connections <n>         WebSocket connections in all (default ${DEFAULTS.maxConnections})
  --idle-timeout-ms <n>         close a connection silent this long (default ${DEFAULTS.idleTimeoutMs})
  --heartbeat-ms <n>            ping interval, 0 = off (default ${DEFAULTS.heartbeatMs})
  --max-buffered-bytes <n>      per-socket queue above which the other end is paused (default ${DEFAULTS.maxBufferedBytes})
  --redis <url>                 join the fleet whose state is in this Redis (redis://host:port)
  --redis-cluster               --redis names a node of a Redis Cluster
  --redis-prefix <text>         prefix of the fleet's keys and channels (default ${DEFAULTS.redisPrefix})
  --public-url <url>            in a fleet: where Edges reach this node (default: its own ws:// address)
  --node-id <name>              in a fleet: this node's name (default: random)
  --lease-ms <n>                in a fleet: lease of directory entries, renewed every third (default ${DEFAULTS.leaseMs})
  --stats-interval <ms>         print a one-line summary to stderr this often (default: never)
  --log-format <text|json>      log lines as text (default) or JSON objects
  --verbose                     log connection events (never payloads, keys or tokens) to stderr
  --help
GET /metrics (Prometheus text) and GET /healthz (200 once in the fleet) on the same port.`;

function fail(message: string): never {
  process.stderr.write(`cse-relay: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function int(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) fail(`--${name} must be a non-negative integer`);
  return Number(v);
}

let args;
try {
  args = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'max-frame-bytes': { type: 'string' },
      'max-frontends-per-edge': { type: 'string' },
      'max-connections': { type: 'string' },
      'idle-timeout-ms': { type: 'string' },
      'heartbeat-ms': { type: 'string' },
      'max-buffered-bytes': { type: 'string' },
      redis: { type: 'string' },
      'redis-cluster': { type: 'boolean' },
      'redis-prefix': { type: 'string' },
      'public-url': { type: 'string' },
      'node-id': { type: 'string' },
      'lease-ms': { type: 'string' },
      'stats-interval': { type: 'string' },
      'log-format': { type: 'string' },
      verbose: { type: 'boolean' },
      help: { type: 'boolean' },
    },
    strict: true,
  }).values;
} catch (e) {
  fail(e instanceof Error ? e.message : String(e));
}
if (args.help === true) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
if ((args['tls-cert'] === undefined) !== (args['tls-key'] === undefined)) fail('--tls-cert and --tls-key go together');
const format = args['log-format'] ?? 'text';
if (format !== 'text' && format !== 'json') fail('--log-format is text or json');
if (args.redis === undefined && (args['redis-cluster'] === true || args['public-url'] !== undefined || args['node-id'] !== undefined)) fail('--redis-cluster, --public-url and --node-id need --redis');
const statsInterval = int('stats-interval', args['stats-interval']);
if (statsInterval === 0) fail('--stats-interval must be positive');

/** One line on stderr; the relay's lines never hold a payload, key, token or ticket. */
const line = (msg: string, fields: Record<string, unknown> = {}): void => {
  const time = new Date().toISOString();
  process.stderr.write(format === 'json' ? `${JSON.stringify({ time, msg, ...fields })}\n` : `${time} ${msg}\n`);
};

const options: RelayOptions = {
  host: args.host,
  port: int('port', args.port),
  tls: args['tls-cert'] !== undefined && args['tls-key'] !== undefined ? { cert: readFileSync(args['tls-cert']), key: readFileSync(args['tls-key']) } : undefined,
  maxFrameBytes: int('max-frame-bytes', args['max-frame-bytes']),
  maxFrontendsPerEdge: int('max-frontends-per-edge', args['max-frontends-per-edge']),
  maxConnections: int('max-connections', args['max-connections']),
  idleTimeoutMs: int('idle-timeout-ms', args['idle-timeout-ms']),
  heartbeatMs: int('heartbeat-ms', args['heartbeat-ms']),
  maxBufferedBytes: int('max-buffered-bytes', args['max-buffered-bytes']),
  redis: args.redis,
  redisCluster: args['redis-cluster'],
  redisPrefix: args['redis-prefix'],
  publicUrl: args['public-url'],
  nodeId: args['node-id'],
  leaseMs: int('lease-ms', args['lease-ms']),
  log: args.verbose === true ? (msg) => line(msg) : undefined,
};

let relay;
try {
  relay = await startRelay(options);
} catch (e) {
  fail(e instanceof Error ? e.message : String(e));
}
process.stdout.write(`cse-relay listening on ${relay.url}\n`);
if (statsInterval !== undefined) {
  const r = relay;
  setInterval(() => {
    const s = r.stats();
    const fields = {
      connections: s.connections,
      edges: s.edges,
      sessions: s.sessions,
      pending: s.pendingSessions,
      frames: s.framesForwarded,
      bytes: s.bytesForwarded,
      paused: s.pausedReaders,
      rssMiB: Math.round(s.memory.rss / 1048576),
      ...(s.fleet === undefined ? {} : { fleet: s.fleet.up ? 'up' : 'degraded', redisCommands: s.fleet.redisCommands }),
    };
    line(format === 'json' ? 'stats' : `stats ${Object.entries(fields).map(([k, v]) => `${k}=${String(v)}`).join(' ')}`, format === 'json' ? fields : {});
  }, statsInterval).unref();
}
const stop = (): void => {
  void relay.close().then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
