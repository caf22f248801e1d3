// Several processes opening one fresh file at the same instant: the switch to WAL and the
// schema must wait for each other, never fail with "database is locked".
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { openStore } from '@cse/core';
import { SqliteAdapter } from '@cse/adapter-sqlite';

const dir = mkdtempSync(join(tmpdir(), 'cse-open-race-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const child = fileURLToPath(new URL('./children/opener.ts', import.meta.url));

function start(path: string, startFile: string, worker: number) {
  const proc = spawn(process.execPath, ['--conditions=@cse/source', '--import', 'tsx', child, path, startFile, String(worker)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let onReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  proc.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    if (out.startsWith('ready\n')) onReady();
  });
  proc.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<{ code: number | null; out: string; err: string }>((resolve) => proc.on('exit', (code) => resolve({ code, out, err })));
  return { ready, exited };
}

it('six processes open one fresh file at the same instant and all of them work', async () => {
  for (let round = 0; round < 3; round++) {
    const path = join(dir, `fresh-${round}.db`);
    const startFile = join(dir, `go-${round}`);
    const children = Array.from({ length: 6 }, (_, i) => start(path, startFile, i));
    await Promise.all(children.map((c) => c.ready));
    writeFileSync(startFile, 'go');
    const results = await Promise.all(children.map((c) => c.exited));
    for (const r of results) expect(r.code, r.err).toBe(0);
    const store = openStore(new SqliteAdapter({ path }));
    expect((await store.find('opened')).map((d) => d.id).sort()).toEqual(['w0', 'w1', 'w2', 'w3', 'w4', 'w5']);
    expect(await store.lastSyncId()).toBe(6);
    await store.close();
  }
}, 120_000);
