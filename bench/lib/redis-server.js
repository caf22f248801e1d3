// A private redis-server for the bench: loopback, a free port, a temp dir; stopped by its pid.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

export const PERSISTENCE = {
  none: { args: ['--save', '', '--appendonly', 'no'], text: "no persistence (--save '' --appendonly no)" },
  'aof-everysec': { args: ['--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec'], text: 'AOF, appendfsync everysec' },
  'aof-always': { args: ['--save', '', '--appendonly', 'yes', '--appendfsync', 'always'], text: 'AOF, appendfsync always (fsync per write)' },
};

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export async function startRedis(dir, persistence = 'none') {
  const mode = PERSISTENCE[persistence];
  if (mode === undefined) throw new Error(`unknown redis persistence ${persistence}; use ${Object.keys(PERSISTENCE).join(', ')}`);
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--daemonize', 'no', ...mode.args], {
    stdio: 'ignore',
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const failed = new Promise((_, reject) => child.once('error', (e) => reject(new Error(`redis-server did not start (apt-get install redis-server): ${e.message}`))));
  const url = `redis://127.0.0.1:${port}`;
  const probe = new Redis(url, { maxRetriesPerRequest: 0, retryStrategy: () => 50, lazyConnect: true });
  probe.on('error', () => {});
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await Promise.race([probe.connect().then(() => probe.ping()), failed]);
      break;
    } catch (e) {
      if (Date.now() > deadline || e.message.startsWith('redis-server did not start')) {
        child.kill('SIGKILL');
        throw e;
      }
      probe.disconnect();
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const version = (await probe.info('server')).match(/redis_version:(\S+)/)?.[1];
  return {
    url,
    pid: child.pid,
    version,
    persistence: mode.text,
    async usedMemoryPeakMb() {
      const info = await probe.info('memory');
      return Number(info.match(/used_memory_peak:(\d+)/)?.[1] ?? 0) / 2 ** 20;
    },
    async stop() {
      probe.disconnect();
      process.kill(child.pid, 'SIGTERM');
      await exited;
    },
  };
}
