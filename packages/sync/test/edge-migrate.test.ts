/**
 * `cse-edge migrate` with real processes on a SQLite file: a store filled at schema version 1,
 * the migration to version 2 killed (SIGKILL) at a random batch, the store reopened (every
 * document at exactly one version, whole batches only, none lost), then run again to the end
 * (sync ids ascending, every document at version 2 with its values). Runs the built CLI.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore, schemaVersionOf } from '@cse/core';
import { until } from './helpers.js';

const root = new URL('../../../', import.meta.url).pathname;
const CSE_EDGE = join(root, 'packages/sync/bin/cse-edge.js');
const dirs: string[] = [];

afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const SCHEMA = `export default {
  workerTypes: {
    pump: {
      version: 2,
      migrations: [{
        up: { desired: ({ speed_rpm, ...rest }) => ({ ...rest, rpm: speed_rpm }) },
        down: { desired: ({ rpm, ...rest }) => ({ ...rest, speed_rpm: rpm }) },
      }],
    },
  },
};
`;

function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CSE_EDGE, ...args], (e, out, err) => resolve({ code: e === null ? 0 : typeof e.code === 'number' ? e.code : 1, out, err }));
  });
}

const N = 400;
const BATCH = 10;

describe('cse-edge migrate', () => {
  it('is killed at a random batch, resumes, and ends with every document at version 2, none lost', { timeout: 120_000 }, async () => {
    if (!existsSync(join(root, 'packages/sync/dist/edge-cli.js'))) throw new Error('build first: npm run build (the CLI runs from dist/)');
    const seed = process.env.CSE_TEST_SEED === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(process.env.CSE_TEST_SEED);
    const killAfter = 1 + (seed % 40); // batches seen before the kill
    const why = `seed ${seed} (replay with CSE_TEST_SEED=${seed}), killed after ${killAfter} batches`;
    const dir = mkdtempSync(join(tmpdir(), 'cse-migrate-'));
    dirs.push(dir);
    const url = `sqlite:${join(dir, 'edge.db')}`;
    const schema = join(dir, 'schema.mjs');
    writeFileSync(schema, SCHEMA);

    const ids = Array.from({ length: N }, (_, i) => `p${String(i).padStart(4, '0')}`);
    const filled = await openStore(url);
    await filled.insertMany('pump_identity', ids.map((id) => ({ id, model: 'X' })));
    await filled.insertMany('pump_desired', ids.map((id, i) => ({ id, speed_rpm: i })));
    await filled.insertMany('pump_observed', ids.map((id) => ({ id, on: true })));
    const filledThrough = await filled.lastSyncId();
    await filled.close();

    // Bad input changes nothing.
    const noRegistry = await run(['migrate', '--store', url]);
    expect(noRegistry.code).toBe(2);
    expect(noRegistry.err).toMatch(/--registry <file\.mjs>/);

    const child = spawn(process.execPath, [CSE_EDGE, 'migrate', '--store', url, '--registry', schema, '--batch', String(BATCH)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<void>((r) => child.on('exit', () => r()));
    await until(() => (out.match(/^migrated /gm)?.length ?? 0) >= killAfter || child.exitCode !== null, () => `${killAfter} batches: ${out}`);
    child.kill('SIGKILL');
    await exited;

    const reopened = await openStore(url);
    let atTwo = 0;
    for (const c of ['pump_identity', 'pump_desired', 'pump_observed']) {
      const docs = await reopened.find(c);
      expect(docs.map((d) => d.id), `${c}: ${why}`).toEqual(ids);
      for (const d of docs) {
        const v = schemaVersionOf(d);
        expect([1, 2], why).toContain(v);
        if (v === 2) atTwo++;
        // Exactly one shape per document.
        if (c === 'pump_desired') expect(v === 2 ? [d.rpm, d.speed_rpm] : [d.speed_rpm, d.rpm], why).toEqual([Number(d.id.slice(1)), undefined]);
      }
    }
    // Batches commit whole (every page here is full).
    expect(atTwo % BATCH, why).toBe(0);
    await reopened.close();

    const resumed = await run(['migrate', '--store', url, '--registry', schema, '--batch', String(BATCH), '--json']);
    expect(resumed.code, resumed.err).toBe(0);
    expect(JSON.parse(resumed.out)).toMatchObject({ migrated: 3 * N - atTwo, versions: { pump: 2 } });

    const done = await openStore(url);
    try {
      for (const c of ['pump_identity', 'pump_desired', 'pump_observed']) {
        const docs = await done.find(c);
        expect(docs).toHaveLength(N);
        for (const d of docs) expect(schemaVersionOf(d)).toBe(2);
      }
      expect((await done.get('pump_desired', 'p0123'))?.rpm).toBe(123);
      // Every migrated document moved forward, in ascending sync ids a follower reads once each.
      const ids2: number[] = [];
      for (let cursor = filledThrough; ; ) {
        const page = await done.changesSince(cursor, { limit: 500 });
        ids2.push(...page.changes.map((ch) => ch.syncId));
        if (page.changes.length === 0) break;
        cursor = page.cursor;
      }
      expect(ids2).toHaveLength(3 * N);
      expect(ids2.every((v, i) => i === 0 || v > (ids2[i - 1] as number))).toBe(true);
      const again = await run(['migrate', '--store', url, '--registry', schema, '--json']);
      expect(JSON.parse(again.out)).toMatchObject({ migrated: 0 });
    } finally {
      await done.close();
    }
  });
});
