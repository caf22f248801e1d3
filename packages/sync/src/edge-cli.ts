/**
 * `cse-edge`: an Edge for operators, without writing code.
 *
 *   cse-edge serve  --store sqlite:./edge.db --relay wss://relay.example:8443 [--registry registry.json] [--direct 127.0.0.1:8470] [--ca ca.pem]
 *   cse-edge pair   --store sqlite:./edge.db --grant operator --types pump,conveyor --label "Line A tablet" --ttl 1h [--url https://dashboard] [--json]
 *   cse-edge paired --store ... [--json]
 *   cse-edge revoke <id|label> --store ... [--json]
 *   cse-edge grant  <id|label> --store ... --grant viewer [--types ...] [--expires 8h] [--json]
 *   cse-edge status --store ... [--json]
 *   cse-edge migrate --store ... --registry schema.mjs [--batch 100] [--json]
 *
 * Every command but `serve` works on the store alone, also while another process serves it (the
 * serving process picks up new codes, grants and revocations within a second). Bad input exits
 * with code 2 and one line saying what to do; a failure of the store or relay exits with 1. In
 * both cases nothing was changed.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Store, WorkerTypeSchema } from '@cse/core';
import { Registry, Replica, TriangularStore, isCseError, openStore } from '@cse/core';
import { checkRelayTls, edgeStatus, servedRegistry, startEdgeService } from './edge-service.js';
import type { Grant } from './grants.js';
import { describeGrant, grantPreset, normalizeGrant } from './grants.js';
import { SECURE_COLLECTION } from './secure/identity.js';
import type { PairedFrontend } from './secure/secure-edge.js';
import { SecureEdge } from './secure/secure-edge.js';

const USAGE = `usage: cse-edge <command> --store <url> [options]
  serve    serve the store: --relay <ws(s)://host:port> and/or --direct <host:port>,
           --registry <file.json> ({"workerTypes": ["pump", ...]}) or <file.mjs> (worker
           types with schema versions and migrations), --ca <file.pem>
  migrate  rewrite stored documents older than the registry's schema versions, in atomic
           batches (resumable: run it again after a crash): --registry <file.mjs>, --batch <n>
  pair     print a one-time pairing code: --grant viewer|operator|admin (default operator),
           --types <a,b> (operator/admin: the Desired they may write), --label <text>,
           --ttl <10m> (code lifetime), --expires <8h> (grant lifetime), --url <page url>
  paired   list paired Frontends with their grants
  revoke   <id|label>: cut a Frontend off, now and for good
  grant    <id|label> --grant ... [--types ...] [--expires ...]: change what it may do, at once
  status   Frontends (grant, last seen), replicas (cursor, lag), receipts, store size
  --json   machine-readable output (pair, paired, revoke, grant, status)`;

/** Bad input: exit 2 with one line. */
class UsageError extends Error {}

function fail(message: string, code: number): never {
  process.stderr.write(`cse-edge: ${message}\n`);
  process.exit(code);
}

function duration(v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(v.trim());
  if (m === null || Number(m[1]) <= 0) throw new UsageError(`${what} must be a duration such as 90s, 10m, 8h or 7d (got ${JSON.stringify(v)})`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}

function list(v: string | undefined): string[] | undefined {
  return v === undefined ? undefined : v.split(',').map((s) => s.trim()).filter(Boolean);
}

/** The file a file-backed store URL names (so a missing one is reported, not created). */
function storeFile(url: string): string | undefined {
  const m = /^(sqlite|level):(?:\/\/)?(.+)$/.exec(url);
  return m === null || m[2] === ':memory:' ? undefined : resolve(m[2] as string);
}

async function open(url: string | undefined, mustExist: boolean): Promise<{ store: Store; file: string | undefined }> {
  if (url === undefined) throw new UsageError('--store <url> is required (e.g. --store sqlite:./edge.db)');
  const file = storeFile(url);
  if (mustExist && file !== undefined && !existsSync(file)) throw new UsageError(`no store at ${file}: start the Edge with \`cse-edge serve --store ${url} ...\` first`);
  let store: Store;
  try {
    store = await openStore(url);
  } catch (e) {
    throw new UsageError(`cannot open the store ${url}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (mustExist) {
    let identity;
    try {
      [identity] = await new Replica(store).getMany([{ collection: SECURE_COLLECTION, id: 'identity' }]);
    } catch (e) {
      await store.close().catch(() => undefined);
      throw new UsageError(`${url} is not an Edge store (${e instanceof Error ? e.message : String(e)})`);
    }
    if (identity === undefined || identity.deleted) {
      await store.close().catch(() => undefined);
      throw new UsageError(`${url} is not an Edge store (it has no Edge identity): start it with \`cse-edge serve --store ${url} ...\` first`);
    }
  }
  return { store, file };
}

/**
 * A registry module (`.js`/`.mjs`): its default export is a `Registry`, or
 * `{ workerTypes: { pump: { version: 2, migrations: [{ up: { desired: (d) => ... } }] }, valve: {} } }`
 * (worker types with schema versions need functions, which JSON cannot hold).
 */
async function registryModule(file: string): Promise<Registry> {
  let exported: unknown;
  try {
    const mod = (await import(pathToFileURL(resolve(file)).href)) as { default?: unknown; registry?: unknown };
    exported = mod.default ?? mod.registry;
  } catch (e) {
    throw new UsageError(`cannot load the registry module ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (exported !== null && typeof exported === 'object' && typeof (exported as Registry).getWorkerSchema === 'function') return exported as Registry;
  const types = (exported as { workerTypes?: unknown } | undefined)?.workerTypes;
  if (types === null || typeof types !== 'object') throw new UsageError(`${file}: export default a Registry or { workerTypes: { pump: { version, migrations }, ... } }`);
  const registry = new Registry();
  try {
    if (Array.isArray(types)) for (const t of types as unknown[]) registry.registerWorkerType(t as string);
    else for (const [t, schema] of Object.entries(types as Record<string, WorkerTypeSchema>)) registry.registerWorkerType(t, schema);
  } catch (e) {
    throw new UsageError(`${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return registry;
}

/** The registry from a file, or the one the serving process recorded in the store. */
async function loadRegistry(store: Store, file: string | undefined): Promise<Registry | undefined> {
  if (file !== undefined && /\.(c|m)?js$/.test(file)) return registryModule(file);
  const registry = new Registry();
  if (file !== undefined) {
    let spec: { workerTypes?: unknown; collections?: unknown };
    try {
      spec = JSON.parse(readFileSync(file, 'utf8')) as typeof spec;
    } catch (e) {
      throw new UsageError(`cannot read the registry ${file}: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (!Array.isArray(spec.workerTypes) && !Array.isArray(spec.collections)) throw new UsageError(`${file}: expected {"workerTypes": ["pump", ...]} and/or {"collections": [{"name", "workerType", "role"}]}`);
    try {
      for (const t of (spec.workerTypes ?? []) as unknown[]) registry.registerWorkerType(t as string);
      for (const c of (spec.collections ?? []) as { name: string; workerType: string; role: 'identity' }[]) registry.registerCollection(c.name, c.workerType, c.role);
    } catch (e) {
      throw new UsageError(`${file}: ${e instanceof Error ? e.message : String(e)}`);
    }
    return registry;
  }
  const served = await servedRegistry(store);
  if (served === undefined) return undefined;
  for (const c of served) registry.registerCollection(c.name, c.workerType, c.role as 'identity');
  return registry;
}

async function grantFrom(values: Record<string, string | boolean | undefined>, store: Store, fallback: string | undefined): Promise<Grant> {
  const preset = (values.grant as string | undefined) ?? fallback;
  if (preset === undefined) throw new UsageError('--grant viewer|operator|admin is required');
  const expiresIn = duration(values.expires as string | undefined, '--expires');
  const types = list(values.types as string | undefined);
  if (preset === 'viewer' && types !== undefined) throw new UsageError('--types names what an operator or admin may write; a viewer writes nothing');
  let grant: Grant;
  try {
    grant = grantPreset(preset, { ...(types ? { workerTypes: types } : {}), ...(expiresIn ? { expiresAt: Date.now() + expiresIn } : {}), ...(typeof values.label === 'string' ? { label: values.label } : {}) });
    const registry = await loadRegistry(store, values.registry as string | undefined);
    if (types !== undefined && registry === undefined) throw new UsageError('--types needs the registry: pass --registry <file.json>, or serve the store once so it records it');
    return normalizeGrant(grant, registry);
  } catch (e) {
    if (isCseError(e, 'VALIDATION')) throw new UsageError(e.message);
    throw e;
  }
}

function findFrontend(all: PairedFrontend[], key: string | undefined): PairedFrontend {
  if (key === undefined) throw new UsageError('name the Frontend: its id (or the first 8+ characters) or its label; see `cse-edge paired`');
  const exact = all.filter((p) => p.frontendId === key || p.label === key);
  const found = exact.length > 0 ? exact : key.length >= 8 ? all.filter((p) => p.frontendId.startsWith(key)) : [];
  if (found.length === 0) throw new UsageError(`no paired Frontend with id or label ${JSON.stringify(key)}; see \`cse-edge paired\``);
  if (found.length > 1) throw new UsageError(`${JSON.stringify(key)} names ${found.length} Frontends (${found.map((p) => p.frontendId.slice(0, 12)).join(', ')}): use the id`);
  return found[0] as PairedFrontend;
}

function show(p: PairedFrontend): string {
  return `${p.frontendId}  ${JSON.stringify(p.label ?? '')}  ${p.revoked ? 'REVOKED' : p.grant === undefined ? 'REFUSED (grant fails its signature)' : describeGrant(p.grant)}`;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined ? 2 : 0;
  }
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      store: { type: 'string' },
      relay: { type: 'string' },
      direct: { type: 'string' },
      registry: { type: 'string' },
      ca: { type: 'string' },
      grant: { type: 'string' },
      types: { type: 'string' },
      label: { type: 'string' },
      ttl: { type: 'string' },
      expires: { type: 'string' },
      url: { type: 'string' },
      batch: { type: 'string' },
      json: { type: 'boolean' },
    },
    allowPositionals: true,
    strict: true,
  });
  const json = values.json === true;
  const out = (text: string, data: unknown): void => {
    process.stdout.write(`${json ? JSON.stringify(data) : text}\n`);
  };
  switch (command) {
    case 'serve': {
      if (values.relay === undefined && values.direct === undefined) throw new UsageError('serve needs --relay <ws(s)://host:port> and/or --direct <host:port>');
      const direct = values.direct === undefined ? undefined : /^(.+):(\d+)$/.exec(values.direct);
      if (direct === null) throw new UsageError('--direct is <host>:<port>, e.g. 127.0.0.1:8470');
      if (values.relay !== undefined && !/^wss?:\/\//.test(values.relay)) throw new UsageError('--relay is ws://host:port or wss://host:port');
      let ca: string | undefined;
      if (values.ca !== undefined) {
        try {
          ca = readFileSync(values.ca, 'utf8');
        } catch (e) {
          throw new UsageError(`cannot read --ca ${values.ca}: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      // Before anything is created: a relay whose certificate does not verify stops here.
      if (values.relay !== undefined) await checkRelayTls(values.relay, ca);
      const { store } = await open(values.store, false);
      const registry = await loadRegistry(store, values.registry);
      if (registry === undefined) {
        await store.close();
        throw new UsageError('no registry: pass --registry <file.json> ({"workerTypes": ["pump", ...]})');
      }
      const log = (line: string): void => {
        process.stdout.write(`${new Date().toISOString()} ${line}\n`);
      };
      let registered = false;
      let refusal: ((reason: string) => void) | undefined;
      const refused = new Promise<string>((r) => (refusal = r));
      const service = await startEdgeService({
        store,
        registry,
        ...(values.relay === undefined ? {} : { relay: values.relay }),
        ...(direct === undefined ? {} : { direct: { host: direct[1] as string, port: Number(direct[2]) } }),
        ...(ca === undefined ? {} : { ca }),
        log,
        onRelayStatus: (status, detail) => {
          if (status === 'registered') {
            registered = true;
            log('connected to the relay');
          } else if (status === 'disconnected') {
            // Refused before it was ever registered, with a reason from the relay: not a network blip.
            if (!registered && detail !== undefined && !detail.startsWith('closed (') && detail !== 'registration timeout') refusal?.(detail);
            else log(`lost the relay (${detail ?? 'no reason'}); reconnecting`);
          }
        },
      });
      log(`edge ${service.secure.edgeId} serving ${values.store}${values.relay ? ` through ${values.relay}` : ''}${service.direct ? ` and on ${service.direct.url}` : ''}`);
      let stopping: Promise<void> | undefined;
      const stop = (code: number): void => {
        stopping ??= (async () => {
          await service.close();
          await store.close();
          process.exit(code);
        })();
      };
      for (const s of ['SIGINT', 'SIGTERM'] as const) process.on(s, () => stop(0));
      void refused.then((reason) => {
        process.stderr.write(`cse-edge: the relay refused this Edge (${reason}); check that the relay admits this Edge key (${service.secure.edgeId})\n`);
        stop(1);
      });
      return new Promise<number>(() => undefined); // runs until a signal
    }
    case 'pair': {
      const { store } = await open(values.store, true);
      try {
        const grant = await grantFrom(values, store, 'operator');
        const ttlMs = duration(values.ttl, '--ttl') ?? 10 * 60_000;
        const secure = await SecureEdge.open({ store });
        const offer = await secure.createPairingCode({ grant, ttlMs, ...(values.label === undefined ? {} : { label: values.label }) });
        const url = values.url === undefined ? undefined : `${values.url.replace(/#.*$/, '')}#pair=${encodeURIComponent(offer.code)}`;
        out(`${offer.code}${url ? `\n${url}` : ''}\nvalid until ${new Date(offer.expiresAt).toISOString()}; ${describeGrant(grant)}`, { code: offer.code, url, expiresAt: offer.expiresAt, edgeId: offer.edgeId, grant });
      } finally {
        await store.close();
      }
      return 0;
    }
    case 'paired': {
      const { store } = await open(values.store, true);
      try {
        const all = await (await SecureEdge.open({ store })).listPaired();
        out(all.length === 0 ? 'no paired Frontends' : all.map(show).join('\n'), all);
      } finally {
        await store.close();
      }
      return 0;
    }
    case 'revoke':
    case 'grant': {
      const { store } = await open(values.store, true);
      try {
        const secure = await SecureEdge.open({ store });
        const target = findFrontend(await secure.listPaired(), positionals[0]);
        if (command === 'revoke') {
          await secure.revoke(target.frontendId);
        } else {
          if (target.revoked) throw new UsageError(`${target.frontendId} is revoked: pair it again with a new code instead`);
          await secure.grant(target.frontendId, await grantFrom(values, store, undefined));
        }
        const after = findFrontend(await secure.listPaired(), target.frontendId);
        out(show(after), after);
      } finally {
        await store.close();
      }
      return 0;
    }
    case 'status': {
      const { store, file } = await open(values.store, true);
      try {
        const registry = (await loadRegistry(store, values.registry)) ?? new Registry();
        const s = await edgeStatus(store, registry, file);
        const when = (t: number | undefined): string => (t === undefined ? 'never' : new Date(t).toISOString());
        const lines = [
          `edge ${s.edgeId}, last sync id ${s.lastSyncId}, ${s.receipts} write receipts${s.storeBytes === undefined ? '' : `, store ${s.storeBytes} bytes`}`,
          ...s.frontends.map((f) => `${show(f)}  ${f.revoked ? 'revoked' : f.live ? 'live' : 'offline'}, last seen ${when(f.lastSeen)}`),
          ...s.replicas.map((r) => `replica ${r.replica}: cursor ${r.cursor}, ${r.lag} behind, at ${when(r.updatedAt)}`),
        ];
        out(lines.join('\n'), s);
      } finally {
        await store.close();
      }
      return 0;
    }
    case 'migrate': {
      if (values.registry === undefined || !/\.(c|m)?js$/.test(values.registry)) throw new UsageError('migrate needs --registry <file.mjs>: the worker types with their schema versions and migrations');
      const batchSize = values.batch === undefined ? 100 : Number(values.batch);
      if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new UsageError(`--batch must be a positive integer (got ${JSON.stringify(values.batch)})`);
      const file = values.store === undefined ? undefined : storeFile(values.store);
      if (file !== undefined && !existsSync(file)) throw new UsageError(`no store at ${file}`);
      const registry = await registryModule(values.registry);
      const { store } = await open(values.store, false);
      try {
        const triangular = new TriangularStore(store, registry);
        const result = await triangular.migrate(undefined, {
          batchSize,
          onBatch: (p) => {
            if (!json) process.stdout.write(`migrated ${p.migrated} (${p.workerType} ${p.role})\n`);
          },
        });
        const versions = registry.getSchemaVersions();
        out(
          `migrated ${result.migrated} documents in ${result.batches} batches; now at ${Object.entries(versions).map(([t, v]) => `${t} v${v}`).join(', ')}`,
          { ...result, versions },
        );
      } finally {
        await store.close();
      }
      return 0;
    }
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}: use serve, pair, paired, revoke, grant, status or migrate (cse-edge --help)`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof UsageError || (e instanceof TypeError && (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))) fail(e.message, 2);
    fail(e instanceof Error ? e.message : String(e), 1);
  },
);
