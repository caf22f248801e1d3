// The `cse-relay` command as a real process (its source, through tsx), spoken to with raw
// WebSockets: usage errors, the listening line, auth frames refused with a close code and a
// reason, the frame size limit, an Edge registering with a WebCrypto signature, TLS (wss://,
// with a certificate openssl makes), and a clean stop on SIGTERM.
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { EDGE_REGISTER_DOMAIN, edgeIdOf } from '@cse/relay';
import { until } from '../../../test-support/until.js';
import { selfSignedCert } from '../../../test-support/tls.js';

const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const children: ChildProcessWithoutNullStreams[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function run(args: string[]): ChildProcessWithoutNullStreams {
  const p = spawn(process.execPath, ['--conditions=@cse/source', '--import', 'tsx', CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(p);
  return p;
}

async function exitOf(p: ChildProcessWithoutNullStreams): Promise<{ code: number | null; out: string; err: string }> {
  let out = '';
  let err = '';
  p.stdout.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => p.on('exit', (c) => resolve(c)));
  return { code, out, err };
}

async function listening(p: ChildProcessWithoutNullStreams): Promise<string> {
  let out = '';
  let err = '';
  p.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /cse-relay listening on (\S+)/.exec(out);
      if (m) resolve(m[1] as string);
    });
    p.on('exit', (code) => reject(new Error(`cse-relay exited (${String(code)}): ${err}`)));
  });
}

/** Opens a socket, sends `frames`, and resolves with the frames received and the close code and reason. */
function converse(url: string, frames: (string | ((got: string[]) => Promise<string>))[], options: { ca?: Buffer } = {}): Promise<{ got: string[]; code: number; reason: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    const got: string[] = [];
    let queue = Promise.resolve();
    ws.on('message', (d) => got.push(String(d)));
    ws.on('open', () => {
      for (const f of frames) queue = queue.then(async () => ws.send(typeof f === 'string' ? f : await f(got)));
    });
    ws.on('close', (code, reason) => resolve({ got, code, reason: reason.toString() }));
    ws.on('error', reject);
  });
}


describe('cse-relay', () => {
  it('prints usage and refuses bad options with exit code 2', async () => {
    const [help, ...bad] = await Promise.all(
      [['--help'], ['--nope'], ['--port', 'x'], ['--tls-cert', 'only.pem'], ['--max-frame-bytes', '0'], ['--log-format', 'xml'], ['--public-url', 'ws://127.0.0.1:1'], ['--redis', 'http://x'], ['--stats-interval', '0']].map((a) => exitOf(run(a))),
    );
    expect(help?.code).toBe(0);
    for (const o of ['--port', '--host', '--tls-cert', '--tls-key', '--max-frame-bytes', '--max-frontends-per-edge', '--max-connections', '--idle-timeout-ms', '--heartbeat-ms', '--max-buffered-bytes', '--redis', '--public-url', '--stats-interval', '--log-format']) expect(help?.out).toContain(o);
    expect(bad.map((b) => b.code)).toEqual([2, 2, 2, 2, 2, 2, 2, 2]);
    expect(bad[6]?.err).toContain('relay option redis must be a redis:// or rediss:// URL');
    expect(bad[3]?.err).toContain('maxFrameBytes must be a positive integer');
  });

  it('refuses malformed auth frames, unknown paths and oversize frames; registers a signed Edge; stops on SIGTERM', async () => {
    const p = run(['--port', '0', '--max-frame-bytes', '4096']);
    const url = await listening(p);
    expect(url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);

    expect(await converse(`${url}/nowhere`, [])).toMatchObject({ code: 4404, reason: 'unknown path' });
    expect(await converse(`${url}/connect`, ['{"t":"hello"}'])).toMatchObject({ code: 4400, reason: 'malformed hello' });
    expect(await converse(`${url}/connect`, ['not json at all, with a secret inside'])).toMatchObject({ code: 4400, reason: 'malformed frame' });
    expect(await converse(`${url}/session`, ['{"t":"accept","sid":"guess"}'])).toMatchObject({ code: 4404, reason: 'unknown session' });
    expect((await converse(`${url}/connect`, ['x'.repeat(5000)])).code).toBe(1009);

    // An Edge: the challenge, signed with WebCrypto under the register domain.
    const subtle = globalThis.crypto.subtle;
    const pair = await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
    const spki = new Uint8Array(await subtle.exportKey('spki', pair.publicKey));
    const sign = async (got: string[], key = pair.privateKey): Promise<string> => {
      await until('the first frame', () => got.length > 0);
      const { nonce } = JSON.parse(got[0] as string) as { nonce: string };
      const sig = new Uint8Array(await subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key, new TextEncoder().encode(EDGE_REGISTER_DOMAIN + nonce)));
      return JSON.stringify({ t: 'register', publicKey: Buffer.from(spki).toString('base64url'), signature: Buffer.from(sig).toString('base64url') });
    };
    const ws = new WebSocket(`${url}/edge`);
    const got: string[] = [];
    ws.on('message', (d) => got.push(String(d)));
    await new Promise((r) => ws.on('open', r));
    ws.send(await sign(got));
    await until('the second frame', () => got.length > 1);
    expect(JSON.parse(got[1] as string)).toEqual({ t: 'registered', edgeId: await edgeIdOf(spki) });
    ws.close();
    // A signature by another key, or one that is not a signature.
    const other = await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
    expect(await converse(`${url}/edge`, [(g) => sign(g, other.privateKey)])).toMatchObject({ code: 4401, reason: 'bad signature' });
    expect(await converse(`${url}/edge`, ['{"t":"register","publicKey":"AAAA","signature":"AAAA"}'])).toMatchObject({ code: 4401, reason: 'bad signature' });

    const exit = new Promise<number | null>((resolve) => p.on('exit', (c) => resolve(c)));
    p.kill('SIGTERM');
    expect(await exit).toBe(0);
  });

  it('logs JSON lines and a periodic summary without secrets, and serves /metrics and /healthz', async () => {
    const p = run(['--port', '0', '--verbose', '--log-format', 'json', '--stats-interval', '100']);
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const url = await listening(p);
    const port = new URL(url).port;
    const secret = 'SECRET-TOKEN-abcdefghijklmnopqrstuvwxyz0123456789';
    const edgeId = 'A'.repeat(43);
    expect(await converse(`${url}/connect`, [JSON.stringify({ t: 'hello', edgeId, token: secret })])).toMatchObject({ code: 4404 });
    expect(await converse(`${url}/connect`, [JSON.stringify({ t: 'hello', edgeId })])).toMatchObject({ code: 4400 });
    await until('the periodic stats line', () => err.includes('"msg":"stats"'));
    const lines = err.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.find((l) => l.msg === 'stats')).toMatchObject({ connections: expect.any(Number), edges: 0, sessions: 0 });
    expect(err).not.toContain('SECRET-TOKEN');
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toContain('# TYPE cse_relay_frames_forwarded_total counter');
    expect(metrics).toMatch(/cse_relay_auth_failures_total\{reason="malformed_hello"\} 1/);
    expect(metrics).toMatch(/cse_relay_routing_requests_total\{route="remote",result="not_found"\} 1/);
    expect(metrics).not.toContain('SECRET-TOKEN');
  });

  it('serves wss:// with --tls-cert and --tls-key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cse-relay-tls-'));
    dirs.push(dir);
    const { key, cert } = selfSignedCert(dir);
    const p = run(['--port', '0', '--tls-cert', cert, '--tls-key', key]);
    const url = await listening(p);
    expect(url).toMatch(/^wss:\/\/127\.0\.0\.1:\d+$/);
    const ws = new WebSocket(`${url}/edge`, { ca: readFileSync(cert) });
    const first = await new Promise<string>((resolve, reject) => {
      ws.on('message', (d) => resolve(String(d)));
      ws.on('error', reject);
    });
    expect(JSON.parse(first)).toMatchObject({ t: 'challenge' });
    ws.close();
  });
});
