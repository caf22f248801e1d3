/**
 * `cse-edge` end to end with real processes: a `cse-relay` process, `cse-edge serve` in another,
 * `cse-edge pair` from a third while serve runs; a Node Frontend pairs with the printed code
 * through the relay, syncs within its grant, and is cut off by `cse-edge revoke` (its status says
 * `revoked`). Also: bad input
 * exits non-zero with one line and changes nothing, and a relay certificate that does not
 * verify says so (then `--ca` makes it work). Runs the built CLIs (`npm run build` first).
 */
import type { ChildProcess } from 'node:child_process';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { MemoryAdapter, Registry, TriangularStore, openStore } from '@cse/core';
import { FrontendSync, SecureFrontend } from '@cse/sync';
import { nodeRelayDial } from '@cse/sync/node';
import { until } from './helpers.js';
import { selfSignedCert } from '../../../test-support/tls.js';

const root = new URL('../../../', import.meta.url).pathname;
const CSE_EDGE = join(root, 'packages/sync/bin/cse-edge.js');
const CSE_RELAY = join(root, 'packages/relay/bin/cse-relay.js');

interface Running {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exited: Promise<number | null>;
}

const children: Running[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.child.exitCode === null) c.child.kill('SIGKILL');
    await c.exited;
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function start(bin: string, args: string[], env: NodeJS.ProcessEnv = process.env): Running {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const r = { child, out: () => out, err: () => err, exited };
  children.push(r);
  return r;
}

/** Runs `cse-edge ...` to its end. */
function run(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CSE_EDGE, ...args], { env }, (e, out, err) => resolve({ code: e === null ? 0 : typeof e.code === 'number' ? e.code : 1, out, err }));
  });
}

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'cse-edge-cli-'));
  dirs.push(d);
  return d;
}

async function relay(args: string[] = []): Promise<string> {
  const r = start(CSE_RELAY, ['--port', '0', ...args]);
  await until(() => /listening on (wss?:\/\/\S+)/.test(r.out()), () => `the relay to listen: ${r.out()} ${r.err()}`);
  return (/listening on (wss?:\/\/\S+)/.exec(r.out()) as RegExpExecArray)[1] as string;
}

function reg(): Registry {
  const r = new Registry();
  r.registerWorkerType('pump');
  r.registerWorkerType('conveyor');
  return r;
}

describe('cse-edge with real processes', () => {
  it('serve; pair from another process; a Node Frontend pairs through cse-relay, syncs within its grant, and is revoked by cse-edge revoke', { timeout: 120_000 }, async () => {
    if (!existsSync(join(root, 'packages/sync/dist/edge-cli.js'))) throw new Error('build first: npm run build (the CLI runs from dist/)');
    const dir = tempDir();
    const file = join(dir, 'edge.db');
    const store = `sqlite:${file}`;
    writeFileSync(join(dir, 'registry.json'), JSON.stringify({ workerTypes: ['pump', 'conveyor'] }));
    const url = await relay();
    const serve = start(CSE_EDGE, ['serve', '--store', store, '--relay', url, '--registry', join(dir, 'registry.json')]);
    await until(() => serve.out().includes('connected to the relay'), () => `serve to register: ${serve.out()} ${serve.err()}`);

    // An Edge writer in this process (several processes on one SQLite file).
    const edgeStore = await openStore(store);
    const tri = new TriangularStore(edgeStore, reg());
    await tri.saveObserved('pump', 'p1', { rpm: 10 });
    await tri.saveObserved('conveyor', 'c1', { speed: 2 });

    const paired = await run(['pair', '--store', store, '--grant', 'operator', '--types', 'pump', '--label', 'Line A tablet', '--ttl', '1h', '--json']);
    expect(paired.code, paired.err).toBe(0);
    const { code, grant } = JSON.parse(paired.out) as { code: string; grant: { preset: string } };
    expect(grant.preset).toBe('operator');

    // The serving process offers the ticket to the relay on its own (it watches the store).
    const feStore = openStore(new MemoryAdapter());
    const secure = await SecureFrontend.open({ store: feStore });
    let lastPairError = '';
    await until(
      async () =>
        secure.pair(code, nodeRelayDial(url)).then(
          () => true,
          (e: unknown) => {
            lastPairError = String(e);
            return false;
          },
        ),
      () => `the pairing through the relay: ${lastPairError}`,
    );
    const fe = new FrontendSync({ store: feStore, registry: reg(), connect: secure.connector(nodeRelayDial(url)), heartbeatMs: 1000, backoff: { min: 20, max: 200 } });
    await fe.start();
    await until(async () => (await feStore.get('pump_observed', 'p1'))?.rpm === 10 && (await feStore.get('conveyor_observed', 'c1'))?.speed === 2, 'the replica to sync');
    expect(fe.grant?.preset).toBe('operator');
    expect([fe.mayWrite('pump'), fe.mayWrite('conveyor')]).toEqual([true, false]);
    const applied = await fe.saveDesired('pump', 'p1', { rpm: 20 });
    const refused = await fe.saveDesired('conveyor', 'c1', { speed: 9 });
    expect((await applied.result).kind).toBe('applied');
    expect(await refused.result).toMatchObject({ kind: 'refused', code: 'FORBIDDEN' });
    expect((await tri.loadDesired('pump', 'p1'))?.rpm).toBe(20);
    expect(await tri.loadDesired('conveyor', 'c1')).toBeUndefined();
    await until(() => /session start: Line A tablet \([\w-]+\), operator: read all; write pump/.test(serve.out()), () => `the session log line: ${serve.out()}`);

    const status = await run(['status', '--store', store, '--json']);
    expect(status.code, status.err).toBe(0);
    const s = JSON.parse(status.out) as { frontends: { label: string; live: boolean; revoked: boolean; grant: { preset: string } }[]; replicas: { lag: number }[]; receipts: number; storeBytes: number };
    expect(s.frontends).toEqual([expect.objectContaining({ label: 'Line A tablet', live: true, revoked: false, grant: expect.objectContaining({ preset: 'operator' }) })]);
    expect(s.receipts).toBeGreaterThanOrEqual(1);
    expect(s.storeBytes).toBeGreaterThan(0);

    // Narrow it from the command line while the session runs: conveyor leaves the replica.
    const narrowed = await run(['grant', 'Line A tablet', '--store', store, '--grant', 'viewer', '--json']);
    expect(narrowed.code, narrowed.err).toBe(0);
    await until(() => fe.grant?.preset === 'viewer', 'the live session to learn the new grant');
    expect(fe.mayWrite('pump')).toBe(false);

    const revoked = await run(['revoke', 'Line A tablet', '--store', store]);
    expect(revoked.code, revoked.err).toBe(0);
    expect(revoked.out).toContain('REVOKED');
    // The serving process cuts the live session at once and tells the relay.
    await until(() => serve.out().includes('revoked:') && /session end: Line A tablet/.test(serve.out()), () => `serve to cut the session: ${serve.out()}`);
    await tri.saveObserved('pump', 'p1', { rpm: 99 });
    const after = JSON.parse((await run(['status', '--store', store, '--json'])).out) as typeof s;
    expect(after.frontends).toEqual([expect.objectContaining({ label: 'Line A tablet', live: false, revoked: true })]);
    // The Frontend side: no more changes reach it.
    await until(() => fe.status === 'revoked', () => `the Frontend to say revoked (it says ${fe.status})`);
    expect((await feStore.get('pump_observed', 'p1'))?.rpm).toBe(10);
    await fe.stop();
    await edgeStore.close();

    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
  });

  it('bad input exits non-zero with one line and changes nothing', { timeout: 60_000 }, async () => {
    const dir = tempDir();
    const missing = join(dir, 'none.db');
    const r1 = await run(['pair', '--store', `sqlite:${missing}`]);
    expect([r1.code, r1.err.trim().split('\n').length]).toEqual([2, 1]);
    expect(r1.err).toContain('no store at');
    expect(existsSync(missing)).toBe(false);

    // A SQLite store that is not an Edge store.
    const plain = join(dir, 'plain.db');
    const s = await openStore(`sqlite:${plain}`);
    await s.insert('things', { id: 'a' });
    await s.close();
    const before = statSync(plain).mtimeMs;
    const r2 = await run(['paired', '--store', `sqlite:${plain}`]);
    expect([r2.code, r2.err.trim()]).toEqual([2, expect.stringContaining('is not an Edge store')]);
    // Not a store at all.
    writeFileSync(join(dir, 'notes.txt'), 'hello');
    const r3 = await run(['status', '--store', `sqlite:${join(dir, 'notes.txt')}`]);
    expect(r3.code).not.toBe(0);
    expect(r3.err.trim().split('\n')).toHaveLength(1);
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('hello');

    // An Edge store: unknown grant, unknown type, unknown Frontend, bad duration.
    writeFileSync(join(dir, 'registry.json'), JSON.stringify({ workerTypes: ['pump'] }));
    const url = await relay();
    const edge = join(dir, 'edge.db');
    const serve = start(CSE_EDGE, ['serve', '--store', `sqlite:${edge}`, '--relay', url, '--registry', join(dir, 'registry.json')]);
    await until(() => serve.out().includes('connected to the relay'), () => `serve: ${serve.out()} ${serve.err()}`);
    for (const [args, text] of [
      [['pair', '--grant', 'root'], 'unknown grant "root"'],
      [['pair', '--grant', 'operator', '--types', 'boiler'], 'unknown worker type "boiler"'],
      [['pair', '--ttl', 'soon'], '--ttl must be a duration'],
      [['revoke', 'nobody'], 'no paired Frontend'],
      [['grant', 'nobody', '--grant', 'viewer'], 'no paired Frontend'],
      [['pair', '--nope'], 'Unknown option'],
    ] as const) {
      const r = await run([...args, '--store', `sqlite:${edge}`]);
      expect([r.code, r.err.trim().split('\n').length, r.err], args.join(' ')).toEqual([2, 1, expect.stringContaining(text)]);
    }
    const list = await run(['paired', '--store', `sqlite:${edge}`, '--json']);
    expect(JSON.parse(list.out)).toEqual([]);
    expect(statSync(plain).mtimeMs).toBe(before);
    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
  });

  it('a relay whose TLS certificate does not verify: serve says so and stops; with --ca (or NODE_EXTRA_CA_CERTS) it serves', { timeout: 60_000 }, async () => {
    const dir = tempDir();
    const { key, cert } = selfSignedCert(dir);
    writeFileSync(join(dir, 'registry.json'), JSON.stringify({ workerTypes: ['pump'] }));
    const url = await relay(['--tls-cert', cert, '--tls-key', key]);
    expect(url.startsWith('wss://')).toBe(true);
    const edge = join(dir, 'edge.db');
    const args = ['serve', '--store', `sqlite:${edge}`, '--relay', url, '--registry', join(dir, 'registry.json')];
    const bad = await run(args);
    expect(bad.code).toBe(1);
    expect(bad.err.trim().split('\n')).toHaveLength(1);
    expect(bad.err).toMatch(/TLS certificate does not verify.*--ca.*NODE_EXTRA_CA_CERTS/);
    expect(existsSync(edge)).toBe(false);
    const withCa = start(CSE_EDGE, [...args, '--ca', cert]);
    await until(() => withCa.out().includes('connected to the relay'), () => `serve with --ca: ${withCa.out()} ${withCa.err()}`);
    withCa.child.kill('SIGTERM');
    expect(await withCa.exited).toBe(0);
    const withEnv = start(CSE_EDGE, args, { ...process.env, NODE_EXTRA_CA_CERTS: cert });
    await until(() => withEnv.out().includes('connected to the relay'), () => `serve with NODE_EXTRA_CA_CERTS: ${withEnv.out()} ${withEnv.err()}`);
    withEnv.child.kill('SIGTERM');
    expect(await withEnv.exited).toBe(0);
  });

  it('a relay that refuses the Edge key: serve exits 1 with one line naming the key', { timeout: 60_000 }, async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'registry.json'), JSON.stringify({ workerTypes: ['pump'] }));
    // A relay stand-in on loopback that refuses every Edge registration, as a relay that does not admit this key would.
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    wss.on('connection', (socket) => socket.close(4401, 'edge key not admitted'));
    try {
      const url = `ws://127.0.0.1:${(wss.address() as { port: number }).port}`;
      const r = await run(['serve', '--store', `sqlite:${join(dir, 'edge.db')}`, '--relay', url, '--registry', join(dir, 'registry.json')]);
      expect(r.code).toBe(1);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.err).toMatch(/the relay refused this Edge \(edge key not admitted\); check that the relay admits this Edge key \([\w-]{43}\)/);
    } finally {
      await new Promise((r) => wss.close(r));
    }
  });
});
