// Starts P1's server for one system (bench/peers/server.js) in its own Node process and talks to
// it over IPC: its URLs, the bytes its proxy counted, and the steady writes of the live rows.
import { fork } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const script = join(dirname(fileURLToPath(import.meta.url)), '..', 'peers', 'server.js');

/** Forks the server ({ system, dir, docs }) and resolves once it serves. */
export async function startPeerServer(config) {
  const child = fork(script, [JSON.stringify(config)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
  const next = (type) =>
    new Promise((resolve, reject) => {
      const on = (m) => {
        if (m.t !== type) return;
        child.off('message', on);
        resolve(m);
      };
      child.on('message', on);
      exited.then((code) => reject(new Error(`the ${config.system} server exited (${code})`)));
    });
  const ready = await next('ready');
  return {
    ...ready,
    pid: child.pid,
    /** Bytes through the proxy (both ways) since the last call. */
    async bytes() {
      const answer = next('bytes');
      child.send({ t: 'bytes' });
      return (await answer).bytes;
    },
    /** Writes at `rate`/s for `seconds`: resolves to { total, achievedRate, committed: Map id -> time }. */
    async go(rate, seconds, tag) {
      const committed = new Map();
      const on = (m) => {
        if (m.t === 'committed') for (const [id, at] of m.batch) committed.set(id, at);
      };
      child.on('message', on);
      const done = next('done');
      child.send({ t: 'go', rate, seconds, tag });
      const d = await done;
      child.off('message', on);
      return { ...d, committed };
    },
    stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      return exited;
    },
  };
}
