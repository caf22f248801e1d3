/**
 * `cse-relay`: runs a relay until SIGINT/SIGTERM.
 *
 *   cse-relay --port 8443 --host 0.0.0.0 --tls-cert cert.pem --tls-key key.pem
 *
 * Prints one line when listening (`cse-relay listening on ws://127.0.0.1:8443`), then one line
 * per connection event on stderr with --verbose. Exit codes: 0 stopped, 2 usage error.
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
  --verbose                     log connection events (never payloads, keys or tokens) to stderr
  --help`;

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
  log: args.verbose === true ? (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`) : undefined,
};

let relay;
try {
  relay = await startRelay(options);
} catch (e) {
  fail(e instanceof Error ? e.message : String(e));
}
process.stdout.write(`cse-relay listening on ${relay.url}\n`);
const stop = (): void => {
  void relay.close().then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
