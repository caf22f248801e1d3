/**
 * The packages as a consumer gets them: `npm pack` of every package, installed from the
 * tarballs into a scratch project (third-party dependencies from the registry, or npm's cache),
 * type-checked by a strict consumer with `skipLibCheck: false`, and run.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const PACKAGES = ['core', 'adapter-sqlite', 'adapter-level', 'adapter-redis', 'adapter-indexeddb', 'conformance', 'sync', 'relay'];
const license = readFileSync(join(root, 'LICENSE'), 'utf8');

interface Packed {
  readonly name: string;
  readonly filename: string;
  readonly files: { path: string }[];
}

let scratch: string;
const packed: Packed[] = [];

function run(cmd: string, args: string[], cwd: string): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: 'pipe', env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false' } });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd}:\n${err.stdout ?? ''}\n${err.stderr ?? ''}`, { cause: e });
  }
}

beforeAll(() => {
  for (const p of PACKAGES) {
    if (!existsSync(join(root, 'packages', p, 'dist', 'index.js'))) throw new Error(`packages/${p} is not built: run npm run build (npm test does) first`);
  }
  scratch = mkdtempSync(join(tmpdir(), 'cse-pack-'));
  const tarballs = join(scratch, 'tarballs');
  mkdirSync(tarballs);
  for (const p of PACKAGES) {
    const out = run('npm', ['pack', '--json', '--pack-destination', tarballs], join(root, 'packages', p));
    packed.push(...(JSON.parse(out) as Packed[]));
  }
  const app = join(scratch, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }, null, 2));
  const sqliteVersion = (JSON.parse(readFileSync(join(root, 'node_modules/better-sqlite3/package.json'), 'utf8')) as { version: string }).version;
  // Scripts are off: better-sqlite3's install would fetch a prebuilt binary from the internet.
  // The addon the workspace built (same version, same Node) is copied in below instead.
  run(
    'npm',
    ['install', '--prefer-offline', '--ignore-scripts', '--no-package-lock', ...packed.map((t) => join(tarballs, t.filename)), `better-sqlite3@${sqliteVersion}`, '@types/node@^20.19.0'],
    app,
  );
  cpSync(join(root, 'node_modules/better-sqlite3/build'), join(app, 'node_modules/better-sqlite3/build'), { recursive: true });
}, 300_000);

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('the packed packages', () => {
  it('each tarball holds LICENSE (the Apache-2.0 text), README.md, package.json and its built types', () => {
    expect(packed.map((p) => p.name).sort()).toEqual(PACKAGES.map((p) => `@cse/${p}`).sort());
    expect(license).toMatch(/Apache License\s+Version 2\.0/);
    for (const p of packed) {
      const files = p.files.map((f) => f.path);
      expect(files, p.name).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json', 'dist/index.js', 'dist/index.d.ts']));
      const dir = join(scratch, 'app/node_modules', p.name);
      expect(readFileSync(join(dir, 'LICENSE'), 'utf8'), p.name).toBe(license);
      expect((JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { license: string }).license).toBe('Apache-2.0');
    }
  });

  it('type-check for a strict consumer (skipLibCheck off) and run: open a SQLite store, insert, read', () => {
    const app = join(scratch, 'app');
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          exactOptionalPropertyTypes: true,
          noUncheckedIndexedAccess: true,
          skipLibCheck: false,
          types: ['node'],
          outDir: 'out',
        },
        include: ['main.ts'],
      }),
    );
    writeFileSync(
      join(app, 'main.ts'),
      `import { isCseError, openStore } from '@cse/core';
import type { Doc, StorageAdapter } from '@cse/core';
import { SqliteAdapter } from '@cse/adapter-sqlite';
import type { SqliteAdapterOptions } from '@cse/adapter-sqlite';
import type { LevelAdapter, LevelAdapterOptions } from '@cse/adapter-level';
import type { RedisAdapter, RedisAdapterOptions } from '@cse/adapter-redis';
import type { IndexedDbAdapter, IndexedDbAdapterOptions } from '@cse/adapter-indexeddb';
import type { ConformanceOptions } from '@cse/conformance';
import type { RelayOptions } from '@cse/relay';

interface Pump { id: string; rpm: number }

const options: SqliteAdapterOptions = { path: process.argv[2] ?? ':memory:' };
const store = openStore(new SqliteAdapter(options));
await store.insert('pumps', { id: 'p1', rpm: 1200 });
const doc: Doc | undefined = await store.get('pumps', 'p1');
const pump = await store.get<Pump>('pumps', 'p1');
const rpm: number | undefined = pump?.rpm;
let conflict = false;
try {
  await store.insert('pumps', { id: 'p1', rpm: 1 });
} catch (e) {
  conflict = isCseError(e, 'CONFLICT');
}
type Unused = [LevelAdapter, LevelAdapterOptions, RedisAdapter, RedisAdapterOptions, IndexedDbAdapter, IndexedDbAdapterOptions, ConformanceOptions, StorageAdapter, RelayOptions];
const unused: Unused | undefined = undefined;
console.log(JSON.stringify({ id: doc?.id, version: doc?._version, rpm, conflict, unused: unused === undefined }));
await store.close();
`,
    );
    run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], app);
    const out = run(process.execPath, [join(app, 'out/main.js'), join(app, 'edge.db')], app);
    expect(JSON.parse(out)).toEqual({ id: 'p1', version: 1, rpm: 1200, conflict: true, unused: true });
  });

  it('links the cse-conformance command from the tarball', () => {
    const bin = join(scratch, 'app/node_modules/.bin/cse-conformance');
    expect(existsSync(bin)).toBe(true);
    const out = run(bin, ['--help'], dirname(bin));
    expect(out).toMatch(/--adapter/);
  });

  it('links the cse-edge command from the tarball (@cse/sync)', () => {
    const bin = join(scratch, 'app/node_modules/.bin/cse-edge');
    expect(existsSync(bin)).toBe(true);
    expect(run(bin, ['--help'], dirname(bin))).toMatch(/serve .*--relay/);
  });

  it('links the cse-relay command from the tarball', () => {
    const bin = join(scratch, 'app/node_modules/.bin/cse-relay');
    expect(existsSync(bin)).toBe(true);
    expect(run(bin, ['--help'], dirname(bin))).toMatch(/--max-frame-bytes/);
  });
});
