/**
 * `npm start`: runs the product on this machine, as three processes:
 *   1. the Edge (a SQLite store in the data folder + simulated machines), which dials out to
 *   2. the relay (`cse-relay`), a blind forwarder of end-to-end encrypted frames, and
 *   3. this process, which serves the dashboard's static files and supervises the other two
 *      (restarting one that dies; Ctrl-C stops them all).
 * Prints the URL to open (with the one-time pairing code), the code itself, and how to stop.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
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
  --relay-port <n>         the relay's port (default 8371)
  --host <addr>            the address the dashboard and the relay listen on (default 127.0.0.1)
  --edges <n>              simulated Edges, one process each, all through the one relay (default 1);
                           Edge 1 keeps its data in --data, Edge k in <data>/edge-k
  --workers <n>            simulated machines per Edge (default 36)
  --tick-ms <n>            time between two machine reports (default 1000)
  --fail-rate <x>          chance per tick that a running machine fails (default 0.005)
  --hmi-rate <x>           chance per tick that a machine's desired state is changed at its HMI
                           on the Edge, so dashboard edits can meet a conflict (default 0.0002)
  --schema <n>             the schema version of the simulated machines, 1 or 2 (default 2): start
                           with 1, then again without it to watch the Edge migrate its documents
  --dashboard-schema <n>   the schema version the dashboard page runs (default: --schema)
  --restart-delay-ms <n>   restart the Edge or the relay this long after it died (default 1000)
  --web <dir>              the dashboard's built files (default: the Vite build beside this script)

The dashboard keeps its copy of the data in the browser, per address: keep the same --port to
find it again.
`;

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: process.env.CSE_DATA ?? './.cse-data' },
    port: { type: 'string', default: process.env.CSE_PORT ?? '8370' },
    'relay-port': { type: 'string', default: '8371' },
    host: { type: 'string', default: '127.0.0.1' },
    edges: { type: 'string', default: '1' },
    workers: { type: 'string', default: '36' },
    'tick-ms': { type: 'string', default: '1000' },
    'fail-rate': { type: 'string', default: '0.005' },
    'hmi-rate': { type: 'string', default: '0.0002' },
    'restart-delay-ms': { type: 'string', default: '1000' },
    schema: { type: 'string', default: '2' },
    'dashboard-schema': { type: 'string' },
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
const web = resolve(values.web ?? resolve(here, fromSource ? '../dist/web' : '../web'));
if (!existsSync(resolve(web, 'index.html'))) {
  console.error(`The dashboard is not built (no ${web}/index.html): run \`npm run build\` first (npm start does it).`);
  process.exit(1);
}
const data = resolve(values.data);
const edgeCount = Number(values.edges);
if (!Number.isSafeInteger(edgeCount) || edgeCount < 1 || edgeCount > 20) {
  console.error(`--edges takes a number from 1 to 20 (got ${values.edges})`);
  process.exit(1);
}
/** Edge 1 keeps the folder a single Edge always had; Edge k (k > 1) a subfolder of it. */
const dataOf = (k: number): string => (k === 1 ? data : join(data, `edge-${k}`));
const host = values.host;
const restartDelayMs = Number(values['restart-delay-ms']);
const log = (line: string): void => console.log(`[cse] ${line}`);
// The relay's command, from source when this runs from source (the tests), else from its build.
const relayIndex = fileURLToPath(import.meta.resolve('@cse/relay'));
const relayCli = resolve(dirname(relayIndex), `cli${extname(relayIndex)}`);
// With --relay-port 0 the first relay picks a free port; a restarted relay takes the same one.
let relayPort = values['relay-port'];
let relayUrl = '';

/** What each Edge reported when it was last (re)started: its config and a one-time pairing code. */
const readyOf: (EdgeReady | undefined)[] = Array.from({ length: edgeCount }, () => undefined);
let announced = false;

/** Calls `onMatch` on the child's first output matching `re` (all its output is passed through). */
function watchOutput(child: ChildProcess, re: RegExp, onMatch: (m: RegExpExecArray) => void): void {
  let buffer = '';
  let matched = false;
  child.stdout?.on('data', (b: Buffer) => {
    const text = b.toString();
    process.stdout.write(text.replace(/^(?=.)/gm, '[relay] '));
    if (matched) return;
    buffer += text;
    const m = re.exec(buffer);
    if (m !== null) {
      matched = true;
      onMatch(m);
    }
  });
}

const relay = new Supervisor({
  name: 'Relay',
  restartDelayMs,
  log,
  spawn: () =>
    fork(relayCli, ['--port', relayPort, '--host', host], { execArgv: process.execArgv, stdio: ['ignore', 'pipe', 'inherit', 'ipc'] }),
});
const relayListening = new Promise<void>((resolveListening, reject) => {
  relay.onStart((child, starts) => {
    watchOutput(child, /listening on (ws\S*?):(\d+)\s/, (m) => {
      relayPort = m[2] as string;
      relayUrl = `${m[1]}:${relayPort}`;
      if (starts > 1) log(`Relay is back (pid ${child.pid})`);
      resolveListening();
    });
    child.once('exit', (code) => {
      if (!announced) reject(new Error(`the relay exited before it listened (code ${code}): is port ${values['relay-port']} free? Pick another with --relay-port`));
    });
  });
});

const edges = Array.from({ length: edgeCount }, (_, i) => {
  const k = i + 1;
  const name = edgeCount === 1 ? 'Edge' : `Edge ${k}`;
  const supervisor = new Supervisor({
    name,
    restartDelayMs,
    log,
    spawn: () =>
      fork(
        resolve(here, `edge-process${fromSource ? '.ts' : '.js'}`),
        ['--data', dataOf(k), '--relay', relayUrl, '--workers', values.workers, '--tick-ms', values['tick-ms'], '--fail-rate', values['fail-rate'], '--hmi-rate', values['hmi-rate'], '--schema', values.schema],
        { execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
      ),
  });
  const ready = new Promise<EdgeReady>((resolveReady, reject) => {
    supervisor.onStart((child, starts) => {
      child.on('message', (m) => {
        if (!isEdgeReady(m)) return;
        if (starts > 1) log(`${name} is back (pid ${child.pid}), resuming from sync id ${m.lastSyncId}; new pairing code: ${m.pairingCode}`);
        readyOf[i] = m;
        resolveReady(m);
      });
      child.once('exit', (code) => {
        if (!announced) reject(new Error(`the ${name} process exited before it was ready (code ${code}); see its messages above`));
      });
    });
  });
  return { supervisor, ready };
});

const dashboardSchema = Number(values['dashboard-schema'] ?? values.schema);
/** `/config.json`: Edge 1 (the page's first), and every Edge this launcher runs (the page lists them). */
function pageConfig(): LinkConfig | null {
  const first = readyOf[0]?.config;
  if (first === undefined) return null;
  const withSchema = { ...first, schema: dashboardSchema };
  return edgeCount === 1 ? withSchema : { ...withSchema, edges: readyOf.flatMap((r) => (r === undefined ? [] : [r.config])) };
}

const site = await serveStatic(web, host, Number(values.port), pageConfig).catch((e: unknown) => {
  const busy = (e as { code?: string }).code === 'EADDRINUSE';
  console.error(busy ? `Port ${values.port} is in use: is another \`npm start\` running? Pick another with --port (or CSE_PORT).` : `Cannot serve the dashboard: ${String(e)}`);
  process.exit(1);
});

let stopping: Promise<void> | undefined;
const stop = (why: string): Promise<void> =>
  (stopping ??= (async () => {
    log(`${why}: stopping the Edge${edgeCount === 1 ? '' : 's'}, the relay and the dashboard server...`);
    await Promise.all([...edges.map((e) => e.supervisor.stop()), relay.stop()]);
    await site.close();
    log(`stopped. The Edge's data stays in ${data}`);
  })());
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    void stop(signal).then(() => process.exit(0));
  });
}

let ready: EdgeReady[];
try {
  relay.start();
  await relayListening;
  for (const e of edges) e.supervisor.start();
  ready = await Promise.all(edges.map((e) => e.ready));
} catch (e) {
  console.error(e instanceof Error ? e.message : String(e));
  await stop('startup failed');
  process.exit(1);
}
announced = true;

const first = ready[0] as EdgeReady;
const edge = (edges[0] as (typeof edges)[number]).supervisor;
const minutes = Math.round((first.pairingExpiresAt - Date.now()) / 60_000);
const others = ready.slice(1).map((r, i) => `     Edge ${i + 2} ${(r.config.edgeId ?? '').slice(0, 12)}… + ${values.workers} machines  pid ${edges[i + 1]?.supervisor.pid}  data: ${dataOf(i + 2)}\n`).join('');
const otherLinks =
  ready.length === 1
    ? ''
    : `\nThe other Edges: open each link in the same browser, or enter its code under "Add an Edge" on the page:\n${ready
        .slice(1)
        .map((r, i) => `  Edge ${i + 2}: ${site.url}#pair=${r.pairingCode}\n`)
        .join('')}`;
console.log(`
CSE is running. Edge ${first.config.edgeId ?? ''}${ready.length === 1 ? '' : ` and ${ready.length - 1} more`}
  1. Edge + ${values.workers} simulated machines  pid ${edge.pid}  data: ${data} (SQLite)
${others}  2. Relay                           pid ${relay.pid}  ${relayUrl}  (forwards encrypted frames; sees no data)
  3. Dashboard server (this process) pid ${process.pid}  ${site.url}

Open the dashboard: ${site.url}#pair=${first.pairingCode}
Pairing code:       ${first.pairingCode}
                    (one use, valid ${minutes} minutes; a browser that paired before needs none: open ${site.url})
${otherLinks}
Stop with Ctrl-C. The data stays in ${data}: \`npm start\` again resumes on it.
`);
