/**
 * The Edge process that `npm start` runs: an Edge store on SQLite in the data folder, the
 * simulated machines writing to it, and the link Frontends sync through. Started by `start.ts`
 * (with an IPC channel: it reports `ready` with what the page needs and a pairing code); stops
 * cleanly on SIGINT or SIGTERM. It dials out to the relay (it listens on no port itself).
 * Run on its own: `node dist/server/edge-process.js --data ./.cse-data --relay ws://127.0.0.1:8371`.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { TriangularStore, openStore } from '@cse/core';
import { EdgeSync } from '@cse/sync';
import { SCHEMA_VERSION, WORKER_TYPE, machineRegistry } from '../shared/machines.js';
import { openEdgeLink } from './edge-link.js';
import type { EdgeReady } from './messages.js';
import { Simulator } from './simulator.js';

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: './.cse-data' },
    relay: { type: 'string', default: 'ws://127.0.0.1:8371' },
    workers: { type: 'string', default: '36' },
    'tick-ms': { type: 'string', default: '1000' },
    'fail-rate': { type: 'string', default: '0.005' },
    'hmi-rate': { type: 'string', default: '0' },
    schema: { type: 'string', default: String(SCHEMA_VERSION) },
  },
  strict: true,
});

const dir = resolve(values.data);
mkdirSync(dir, { recursive: true });
const store = await openStore(`sqlite:${join(dir, 'edge.db')}`);
const schema = Number(values.schema);
const registry = machineRegistry(schema);
/** The machines switched off: one id a line in `<data>/unplugged` (a dead machine, for trying the stale marking). */
function unplugged(): ReadonlySet<string> {
  try {
    return new Set(readFileSync(join(dir, 'unplugged'), 'utf8').split(/\s+/).filter((id) => id !== ''));
  } catch {
    return new Set();
  }
}
const triangular = new TriangularStore(store, registry);
// Documents written by an older release are brought to this one's schema version before the
// machines report again (S12); dashboards receive them with new sync ids.
const migration = await triangular.migrate(WORKER_TYPE);
if (migration.migrated > 0) console.log(`[edge] schema: migrated ${migration.migrated} machine documents to version ${schema} (${migration.batches} atomic batches)`);
else console.log(`[edge] schema: machine documents at version ${schema}`);
const simulator = new Simulator({ store, triangular, schema, workers: Number(values.workers), tickMs: Number(values['tick-ms']), failRate: Number(values['fail-rate']), hmiRate: Number(values['hmi-rate']), unplugged });
await simulator.init();
const edge = new EdgeSync({ store, registry, triangular });
let lastRelayStatus: string | undefined;
const link = await openEdgeLink({
  edge,
  store,
  relayUrl: values.relay,
  log: (line) => console.log(`[edge] ${line}`),
  onStatus: (status, detail) => {
    // One line per real change (the listener retries quietly while the relay is away).
    const line = status === 'registered' ? 'connected to the relay' : status === 'disconnected' ? 'lost the relay; reconnecting' : undefined;
    if (line === undefined || line === lastRelayStatus) return;
    lastRelayStatus = line;
    console.log(`[edge] ${line}${status === 'disconnected' && detail ? ` (${detail})` : ''}`);
  },
});
simulator.start();

const ready: EdgeReady = { t: 'ready', config: link.config, pairingCode: link.pairingCode, pairingExpiresAt: link.pairingExpiresAt, lastSyncId: await store.lastSyncId() };
if (process.send) process.send(ready);
else console.log(`Edge ${link.config.edgeId} ready through ${values.relay}\nPairing code: ${link.pairingCode}`);

let stopping: Promise<void> | undefined;
const stop = (): Promise<void> =>
  (stopping ??= (async () => {
    await simulator.stop();
    await link.close();
    await edge.close();
    await store.close();
  })());
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    stop().then(
      () => process.exit(0),
      (e: unknown) => {
        console.error(`edge: ${e instanceof Error ? e.message : String(e)}`);
        process.exit(1);
      },
    );
  });
}
// The launcher went away without a signal (killed): stop with it.
process.on('disconnect', () => {
  void stop().finally(() => process.exit(0));
});
