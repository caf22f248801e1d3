/**
 * The redis-server starters every test that needs a real Redis uses: a plain server or a
 * three-master cluster on free loopback ports, each in its own directory, stopped by `stop()`.
 * A missing redis-server fails with the install hint (never a skip).
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const INSTALL_HINT = 'redis-server and redis-cli are needed for these tests: install them with `apt-get install redis-server`';

/** Throws with the install hint unless redis-server and redis-cli run. */
export function assertRedisInstalled(): void {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    execFileSync('redis-cli', ['--version'], { stdio: 'ignore' });
  } catch (e) {
    throw new Error(INSTALL_HINT, { cause: e });
  }
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A free loopback port found by binding port 0; with `bus`, port + 10000 is free too (cluster bus). */
export async function freePort(bus = false): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
      });
    });
    if (!bus) return port;
    if (port < 55_000 && (await portIsFree(port + 10_000))) return port;
  }
}

/** Resolves once the server at `port` answers PING with PONG (not LOADING). */
export async function waitForPong(port: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await new Promise<string>((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port });
      let data = '';
      socket.setTimeout(1000, () => socket.destroy());
      socket.on('connect', () => socket.write('PING\r\n'));
      socket.on('data', (chunk) => {
        data += chunk.toString();
        if (data.includes('\r\n')) socket.end();
      });
      socket.on('close', () => resolve(data));
      socket.on('error', () => resolve(''));
    });
    if (answer.startsWith('+PONG')) return;
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer PING (last answer ${JSON.stringify(answer)})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** One redis-server process we started. */
export interface RedisServer {
  readonly port: number;
  readonly dir: string;
  readonly url: string;
  readonly process: ChildProcess;
  /** SIGTERM (or `signal`), then waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts redis-server on 127.0.0.1 with its files in `dir`, no RDB snapshots and no AOF unless
 * `args` says otherwise, and waits until it answers.
 */
export async function startRedis(dir: string, args: readonly string[] = [], port?: number): Promise<RedisServer> {
  assertRedisInstalled();
  await mkdir(dir, { recursive: true });
  const p = port ?? (await freePort(args.includes('--cluster-enabled')));
  const child = spawn(
    'redis-server',
    ['--port', String(p), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning', ...args],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('error', () => {});
  await Promise.race([
    waitForPong(p),
    exited.then(() => {
      throw new Error(`redis-server on port ${p} exited at start (args ${args.join(' ')})`);
    }),
  ]);
  return {
    port: p,
    dir,
    url: `redis://127.0.0.1:${p}`,
    process: child,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, signal);
      await exited;
    },
  };
}

/** Three cluster-enabled masters joined by `redis-cli --cluster create`, waited until `cluster_state:ok`. */
export async function startCluster(dir: string): Promise<RedisServer[]> {
  const nodes: RedisServer[] = [];
  for (let i = 0; i < 3; i++) {
    nodes.push(
      await startRedis(join(dir, `node-${i}`), ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '5000']),
    );
  }
  await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes']);
  const deadline = Date.now() + 30_000;
  for (const node of nodes) {
    for (;;) {
      const { stdout } = await run('redis-cli', ['-p', String(node.port), 'cluster', 'info']);
      if (stdout.includes('cluster_state:ok')) break;
      if (Date.now() > deadline) throw new Error(`the test cluster did not reach cluster_state:ok:\n${stdout}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return nodes;
}
