/**
 * `npm start`: runs the product on this machine. This process serves the dashboard (static
 * files) and supervises the others: the Edge (SQLite store + simulated machines) and the relay.
 * Prints the URL to open, the pairing code, and how to stop; Ctrl-C stops everything.
 */
import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { LinkConfig } from '../shared/link-config.js';
import type { EdgeReady } from './messages.js';
import { isEdgeReady } from './messages.js';
import { serveStatic } from './static-server.js';
import { Supervisor } from './supervisor.js';

const HELP = `Usage: npm start -- [options]

  --data <dir>             the Edge's data folder (env CSE_DATA; default ./.cse-data)
  --port <n>               the dashboard's port (env CSE_PORT; default 8370; 0 = any free port)
  --edge-port <n>          the Edge's WebSocket port (default 8372; 0 = any free port)
  --host <addr>            the address everything listens on (default 127.0.0.1)
  --workers <n>            simulated machines (default 36)
  --tick-ms <n>            time between two machine reports (default 1000)
  --fail-rate <x>          chance per tick that a running machine fails (default 0.005)
  --restart-delay-ms <n>   restart a process that died after this long (default 1000)
  --web <dir>              the dashboard's built files (default: the Vite build next to this script)
`;

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: process.env.CSE_DATA ?? './.cse-data' },
    port: { type: 'string', default: process.env.CSE_PORT ?? '8370' },
    'edge-port': { type: 'string', default: '8372' },
    host: { type: 'string', default: '127.0.0.1' },
    workers: { type: 'string', default: '36' },
    'tick-ms': { type: 'string', default: '1000' },
    'fail-rate': { type: 'string', default: '0.005' },
    'restart-delay-ms': { type: 'string', default: '1000' },
    web: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
  strict: true,
});
if (values.help) {
  console.log(HELP);
  process.exit(0);
}

const here = fileURLToPath(new URL('.', import.meta.url));
const fromSource = import.meta.url.endsWith('.ts');
const ext = fromSource ? '.ts' : '.js';
const web = resolve(values.web ?? resolve(here, fromSource ? '../dist/web' : '../web'));
if (!existsSync(resolve(web, 'index.html'))) {
  console.error(`The dashboard is not built (no ${web}/index.html): run \`npm run build\` first (npm start does it).`);
  process.exit(1);
}
const data = resolve(values.data);
const log = (line: string): void => console.log(`[cse] ${line}`);

let config: LinkConfig | undefined;
let pairingCode: string | undefined;
let announced = false;

const edge = new Supervisor({
  name: 'Edge',
  restartDelayMs: Number(values['restart-delay-ms']),
  log,
  spawn: () =>
    fork(
      resolve(here, `edge-process${ext}`),
      ['--data', data, '--host', values.host, '--port', values['edge-port'], '--workers', values.workers, '--tick-ms', values['tick-ms'], '--fail-rate', values['fail-rate']],
      { execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
    ),
});

const firstReady = new Promise<EdgeReady>((resolveReady, reject) => {
  edge.onStart((child, starts) => {
    child.on('message', (m) => {
      if (!isEdgeReady(m)) return;
      config = m.config;
      pairingCode = m.pairingCode ?? pairingCode;
      if (starts > 1) log(`Edge is back (pid ${child.pid}), resuming from sync id ${m.lastSyncId}`);
      resolveReady(m);
    });
    child.once('exit', (code) => {
      if (!announced) reject(new Error(`the Edge process exited before it was ready (code ${code}); see its messages above`));
    });
  });
});

const site = await serveStatic(web, values.host, Number(values.port), () => config ?? null).catch((e: unknown) => {
  const busy = (e as { code?: string }).code === 'EADDRINUSE';
  console.error(busy ? `Port ${values.port} is in use: is another \`npm start\` running? Pick another with --port (or CSE_PORT).` : `Cannot serve the dashboard: ${String(e)}`);
  process.exit(1);
});

let stopping: Promise<void> | undefined;
const stop = (why: string): Promise<void> =>
  (stopping ??= (async () => {
    log(`${why}: stopping the Edge and the dashboard server...`);
    await edge.stop();
    await site.close();
    log('stopped. Your data stays in ' + data);
  })());
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    void stop(signal).then(() => process.exit(0));
  });
}

edge.start();
let ready: EdgeReady;
try {
  ready = await firstReady;
} catch (e) {
  console.error(String(e instanceof Error ? e.message : e));
  await stop('the Edge failed');
  process.exit(1);
}
announced = true;

const open = pairingCode === undefined ? site.url : `${site.url}#pair=${pairingCode}`;
console.log(`
CSE is running. Edge data: ${data} (SQLite, edge.db)

  1. Edge + ${values.workers} simulated machines  pid ${edge.pid}  ${ready.config.edgeUrl ?? ready.config.relayUrl ?? ''}
  2. Relay                           not yet: the dashboard connects to the Edge directly
  3. Dashboard server (this process) pid ${process.pid}  ${site.url}

Open the dashboard: ${open}
${pairingCode === undefined ? '' : `Pairing code:       ${pairingCode}\n                    (one use, 10 minutes; the page remembers the pairing)\n`}
Stop with Ctrl-C. The data stays in ${data}: \`npm start\` again resumes on it.
`);
