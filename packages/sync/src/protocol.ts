/**
 * The sync protocol, version 3 (see `docs/sync-protocol.md`; an Edge still serves versions 1 and 2): JSON text frames, each an object
 * with a type `t`. Every frame a peer receives goes through `decode`, which checks its shape and
 * its limits and throws a `PROTOCOL` error for anything else, so nothing malformed reaches the
 * code that applies it.
 */
import type { JsonObject } from '@cse/core';
import { CseError, ErrorCode, MAX_ID_LENGTH, assertCollectionName, assertId, isCseError } from '@cse/core';
import type { AdminOp } from './admin.js';
import { ADMIN_OPS } from './admin.js';
import type { Grant } from './grants.js';
import { normalizeGrant } from './grants.js';

export const PROTOCOL_VERSION = 3;
/** The oldest protocol version an Edge still serves (a v1 Frontend: no `write.bs`). */
export const MIN_PROTOCOL_VERSION = 1;
/** Largest frame either side accepts by default (UTF-16 code units of the JSON text). */
export const DEFAULT_MAX_FRAME = 8 * 1024 * 1024;
/** Longest write id and client id. */
const MAX_TOKEN = 128;
/** Most collections one subscription may name. */
const MAX_COLLECTIONS = 1000;
/** Most writes in one `writes` frame (and results in one `results` frame), v3. */
export const MAX_BATCH = 1000;

/** A change on the wire: a document's current state on the Edge. */
export interface WireChange {
  /** collection */
  readonly c: string;
  readonly id: string;
  /** the Edge's `_sync_id` */
  readonly s: number;
  /** the Edge's `_version` */
  readonly v: number;
  /** true for a tombstone */
  readonly d: boolean;
  /** the Edge's document, metadata included */
  readonly doc: JsonObject;
}

/** A Desired write: a `write` frame's fields, and one item of a v3 `writes` frame. */
export interface WireWrite {
  readonly w: string;
  readonly c: string;
  readonly id: string;
  /** The Edge `_version` the write is based on (0: the document did not exist). */
  readonly base: number;
  /** v2: the Edge `_sync_id` of that version; a document with the base version but another sync id is another document (re-created after compaction): a conflict. */
  readonly bs?: number;
  readonly body: JsonObject;
}

/** Frontend → Edge. */
export type ClientMessage =
  | {
      readonly t: 'hello';
      readonly v: number;
      /** The replica's stable random id (receipts of its writes are keyed by it). */
      readonly client: string;
      /** The Edge epoch the cursors belong to; `null` for a new replica. */
      readonly epoch: string | null;
      /** The collections followed. */
      readonly collections: readonly string[];
      /** Per collection, the highest Edge `_sync_id` applied (missing: 0). */
      readonly cursors: Readonly<Record<string, number>>;
      /**
       * Schema versions: per worker type, the version this Frontend speaks. Sent only when one
       * is above 1; absent means every worker type at version 1 (a peer without versions).
       */
      readonly schemas?: Readonly<Record<string, number>>;
    }
  /** A queued Desired write. */
  | ({ readonly t: 'write' } & WireWrite)
  /** v3: several writes in one frame, answered by one `results` frame (each write keeps its own result). */
  | { readonly t: 'writes'; readonly ws: readonly WireWrite[] }
  | { readonly t: 'ack'; readonly n: number }
  /** Administration (pair, grant, revoke, list other Frontends): only with an `admin` grant. */
  | { readonly t: 'admin'; readonly n: number; readonly op: AdminOp; readonly args: JsonObject }
  | { readonly t: 'ping' }
  | { readonly t: 'pong' };

/** What became of one write: a `result` frame's fields, and one item of a v3 `results` frame. */
export type WireResult =
  | {
      readonly w: string;
      readonly ok: true;
      /** The version this write produced (for a duplicate too: kept in its receipt). */
      readonly version: number;
      /** The sync id of that version; 0 when a duplicate's document has changed since. */
      readonly sync: number;
      readonly dup: boolean;
      /** v2, a duplicate whose document changed since: the Edge's current record (a tombstone included), `null` when it has none (compacted away). */
      readonly current?: JsonObject | null;
    }
  | {
      readonly w: string;
      readonly ok: false;
      readonly code: 'CONFLICT' | 'FORBIDDEN' | 'VALIDATION' | 'UPDATE_REQUIRED';
      readonly message: string;
      /** The Edge's current document (`CONFLICT`, and `VALIDATION` of a followed Desired document), `null` when there is none or it is not the Frontend's to see. */
      readonly current: JsonObject | null;
    };

/** Edge → Frontend. */
export type EdgeMessage =
  | {
      readonly t: 'welcome';
      readonly v: number;
      readonly epoch: string;
      /** The Edge's last `_sync_id` when the session began. */
      readonly head: number;
      /** The cursors the replica sent cannot be served (another epoch, compacted, ahead): rebuild from 0. */
      readonly reset: boolean;
      /** What each followed collection is on the Edge. */
      readonly collections: Readonly<Record<string, { readonly workerType: string; readonly role: string }>>;
      /** What this Frontend may read and write (absent from an Edge that does not know: a direct, unauthenticated link). */
      readonly grant?: Grant;
      /**
       * Only to a hello with `schemas`: worker types this Edge cannot serve in the Frontend's
       * version (`UPDATE_REQUIRED`): their collections are left out of the session (no pages,
       * cursors kept) and their writes wait; the other types sync as usual.
       */
      readonly updateRequired?: readonly string[];
    }
  /** The Frontend's grant changed during the session (sent before the Edge ends a session the grant no longer covers). */
  | { readonly t: 'grant'; readonly grant: Grant }
  | {
      readonly t: 'page';
      /** Page number in this session, from 1. */
      readonly n: number;
      /** The collections this page covers: for each, every change in (from, to] is in it. */
      readonly cs: readonly string[];
      readonly from: number;
      readonly to: number;
      readonly changes: readonly WireChange[];
      /** The Edge's last `_sync_id` as far as this page knows (for progress). */
      readonly head: number;
    }
  /** The answer to one write. */
  | ({ readonly t: 'result' } & WireResult)
  /** v3: the results of one `writes` frame, in its order. */
  | { readonly t: 'results'; readonly rs: readonly WireResult[] }
  | { readonly t: 'error'; readonly code: string; readonly message: string }
  | { readonly t: 'admin-result'; readonly n: number; readonly ok: true; readonly value: JsonObject }
  | { readonly t: 'admin-result'; readonly n: number; readonly ok: false; readonly code: string; readonly message: string }
  | { readonly t: 'ping' }
  | { readonly t: 'pong' };

export class ProtocolError extends CseError {
  constructor(message: string) {
    super(ErrorCode.PROTOCOL, message);
  }
}

type Obj = Record<string, unknown>;

function fail(what: string): never {
  throw new ProtocolError(what);
}

function isObject(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function count(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(`${what} must be a non-negative integer`);
  return v;
}

function token(v: unknown, what: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_TOKEN) fail(`${what} must be a string of 1 to ${MAX_TOKEN} characters`);
  return v;
}

function collection(v: unknown, what: string): string {
  if (typeof v !== 'string') fail(`${what} must be a collection name`);
  try {
    assertCollectionName(v);
  } catch (e) {
    if (isCseError(e, 'VALIDATION')) fail(`${what}: ${e.message}`);
    throw e;
  }
  return v;
}

function docId(v: unknown, what: string): string {
  try {
    assertId(v);
  } catch (e) {
    if (isCseError(e, 'VALIDATION')) fail(`${what}: ${e.message}`);
    throw e;
  }
  return v as string;
}

function collections(v: unknown, what: string): string[] {
  if (!Array.isArray(v) || v.length > MAX_COLLECTIONS) fail(`${what} must be an array of at most ${MAX_COLLECTIONS} collection names`);
  const out = v.map((c, i) => collection(c, `${what}[${i}]`));
  if (new Set(out).size !== out.length) fail(`${what} names a collection twice`);
  return out;
}

function only(m: Obj, keys: readonly string[], type: string): void {
  for (const k of Object.keys(m)) if (!keys.includes(k)) fail(`unknown field ${JSON.stringify(k.slice(0, 40))} in a ${type} message`);
}

/** Parses one frame into a message; throws `PROTOCOL` for anything that is not one. */
function parse(frame: unknown, maxFrame: number): Obj {
  if (typeof frame !== 'string') fail('a frame must be text');
  if (frame.length > maxFrame) fail(`a frame of ${frame.length} characters is over the limit of ${maxFrame}`);
  let m: unknown;
  try {
    m = JSON.parse(frame);
  } catch {
    fail('a frame is not JSON');
  }
  if (!isObject(m) || typeof m.t !== 'string') fail('a frame must be an object with a type "t"');
  return m;
}

/** The fields of one write (a `write` frame, or an item of `writes`). */
function wireWrite(m: Obj, what: string, keys: readonly string[] = ['t', 'w', 'c', 'id', 'base', 'bs', 'body']): WireWrite {
  only(m, keys, what);
  if (!isObject(m.body)) fail(`${what}.body must be an object`);
  const write = { w: token(m.w, `${what}.w`), c: collection(m.c, `${what}.c`), id: docId(m.id, `${what}.id`), base: count(m.base, `${what}.base`), body: m.body as JsonObject };
  return m.bs === undefined ? write : { ...write, bs: count(m.bs, `${what}.bs`) };
}

/** Checks a frame the Edge received. */
export function decodeClient(frame: unknown, maxFrame = DEFAULT_MAX_FRAME): ClientMessage {
  const m = parse(frame, maxFrame);
  switch (m.t) {
    case 'hello': {
      only(m, ['t', 'v', 'client', 'epoch', 'collections', 'cursors', 'schemas'], 'hello');
      const v = count(m.v, 'hello.v');
      const client = token(m.client, 'hello.client');
      if (m.epoch !== null) token(m.epoch, 'hello.epoch');
      const cs = collections(m.collections, 'hello.collections');
      if (!isObject(m.cursors)) fail('hello.cursors must be an object');
      const cursors: Record<string, number> = {};
      for (const [c, n] of Object.entries(m.cursors)) {
        collection(c, 'a hello.cursors key');
        cursors[c] = count(n, `hello.cursors.${c}`);
      }
      const hello = { t: 'hello' as const, v, client, epoch: m.epoch as string | null, collections: cs, cursors };
      if (m.schemas === undefined) return hello;
      if (!isObject(m.schemas)) fail('hello.schemas must be an object');
      const schemas: Record<string, number> = {};
      for (const [type, n] of Object.entries(m.schemas)) {
        if (!/^[A-Za-z][A-Za-z0-9_-]{0,63}$/.test(type)) fail('a hello.schemas key must be a worker type');
        if (count(n, `hello.schemas.${type}`) < 1) fail(`hello.schemas.${type} must be at least 1`);
        schemas[type] = n as number;
      }
      return { ...hello, schemas };
    }
    case 'write':
      return { t: 'write', ...wireWrite(m, 'write') };
    case 'writes': {
      only(m, ['t', 'ws'], 'writes');
      if (!Array.isArray(m.ws) || m.ws.length === 0 || m.ws.length > MAX_BATCH) fail(`writes.ws must be an array of 1 to ${MAX_BATCH} writes`);
      const ws = m.ws.map((w, i) => {
        if (!isObject(w)) fail(`writes.ws[${i}] must be an object`);
        return wireWrite(w, `writes.ws[${i}]`, ['w', 'c', 'id', 'base', 'bs', 'body']);
      });
      return { t: 'writes', ws };
    }
    case 'admin':
      only(m, ['t', 'n', 'op', 'args'], 'admin');
      if (!(ADMIN_OPS as readonly unknown[]).includes(m.op)) fail(`admin.op must be one of ${ADMIN_OPS.join(', ')}`);
      if (!isObject(m.args)) fail('admin.args must be an object');
      return { t: 'admin', n: count(m.n, 'admin.n'), op: m.op as AdminOp, args: m.args as JsonObject };
    case 'ack':
      only(m, ['t', 'n'], 'ack');
      return { t: 'ack', n: count(m.n, 'ack.n') };
    case 'ping':
    case 'pong':
      only(m, ['t'], m.t);
      return { t: m.t };
    default:
      return fail(`unknown message type ${JSON.stringify(String(m.t).slice(0, 40))}`);
  }
}

/** The metadata a v3 change carries only once: in its envelope (`s`, `v`, `d`), or in its document (`id`). */
const ENVELOPE_FIELDS = ['_sync_id', '_version', '_deleted'] as const;

/**
 * A change as it goes on the wire in a session of protocol `version`: from v3 the document
 * leaves out what the envelope says (`_sync_id`, `_version`, `_deleted`), the envelope leaves out
 * the id (the document's), and `d` is left out when false. The decoder puts them back, so both
 * shapes decode to the same change.
 */
export function packChange(change: WireChange, version: number): object {
  if (version < 3) return change;
  const doc: Record<string, unknown> = { ...change.doc };
  for (const k of ENVELOPE_FIELDS) delete doc[k];
  return change.d ? { c: change.c, s: change.s, v: change.v, d: true, doc } : { c: change.c, s: change.s, v: change.v, doc };
}

function wireChange(v: unknown, i: number): WireChange {
  if (!isObject(v)) fail(`page.changes[${i}] must be an object`);
  only(v, ['c', 'id', 's', 'v', 'd', 'doc'], 'change');
  if (v.d !== undefined && typeof v.d !== 'boolean') fail(`page.changes[${i}].d must be a boolean`);
  if (!isObject(v.doc)) fail(`page.changes[${i}].doc must be an object`);
  const c = collection(v.c, `page.changes[${i}].c`);
  const s = count(v.s, `page.changes[${i}].s`);
  const ver = count(v.v, `page.changes[${i}].v`);
  const d = v.d === true;
  const sent = v.doc as JsonObject;
  if (v.id === undefined) {
    // v3: the envelope's metadata goes back into the document, the document's id into the change.
    if (ENVELOPE_FIELDS.some((k) => k in sent)) fail(`page.changes[${i}]: a packed document carries envelope metadata`);
    const id = docId(sent.id, `page.changes[${i}].doc.id`);
    return { c, id, s, v: ver, d, doc: { ...sent, _sync_id: s, _version: ver, ...(d ? { _deleted: true } : {}) } };
  }
  const id = docId(v.id, `page.changes[${i}].id`);
  if (v.d === undefined) fail(`page.changes[${i}].d must be a boolean`);
  if (sent.id !== id || sent._sync_id !== s || sent._version !== ver || (sent._deleted === true) !== d) {
    fail(`page.changes[${i}]: the document's id and metadata disagree with the change`);
  }
  return { c, id, s, v: ver, d, doc: sent };
}

function wireGrant(v: unknown, what: string): Grant {
  try {
    return normalizeGrant(v);
  } catch (e) {
    if (isCseError(e, 'VALIDATION')) fail(`${what}: ${e.message}`);
    throw e;
  }
}

/** The fields of one result (a `result` frame, or an item of `results`); `t` is allowed only on a frame. */
function wireResult(m: Obj, what: string, ...frame: string[]): WireResult {
  const w = token(m.w, `${what}.w`);
  if (m.ok === true) {
    only(m, [...frame, 'w', 'ok', 'version', 'sync', 'dup', 'current'], what);
    if (typeof m.dup !== 'boolean') fail(`${what}.dup must be a boolean`);
    const ok = { w, ok: true, version: count(m.version, `${what}.version`), sync: count(m.sync, `${what}.sync`), dup: m.dup } as const;
    if (m.current === undefined) return ok;
    if (m.current !== null && !isObject(m.current)) fail(`${what}.current must be an object or null`);
    return { ...ok, current: m.current as JsonObject | null };
  }
  only(m, [...frame, 'w', 'ok', 'code', 'message', 'current'], what);
  if (m.ok !== false) fail(`${what}.ok must be a boolean`);
  if (m.code !== 'CONFLICT' && m.code !== 'FORBIDDEN' && m.code !== 'VALIDATION' && m.code !== 'UPDATE_REQUIRED') fail(`${what}.code must be CONFLICT, FORBIDDEN, VALIDATION or UPDATE_REQUIRED`);
  if (typeof m.message !== 'string') fail(`${what}.message must be a string`);
  if (m.current !== null && !isObject(m.current)) fail(`${what}.current must be an object or null`);
  return { w, ok: false, code: m.code, message: m.message.slice(0, 1000), current: m.current as JsonObject | null };
}

/** Checks a frame the Frontend received. */
export function decodeEdge(frame: unknown, maxFrame = DEFAULT_MAX_FRAME): EdgeMessage {
  const m = parse(frame, maxFrame);
  switch (m.t) {
    case 'welcome': {
      only(m, ['t', 'v', 'epoch', 'head', 'reset', 'collections', 'grant', 'updateRequired'], 'welcome');
      if (typeof m.reset !== 'boolean') fail('welcome.reset must be a boolean');
      if (!isObject(m.collections)) fail('welcome.collections must be an object');
      const cs: Record<string, { workerType: string; role: string }> = {};
      for (const [c, meta] of Object.entries(m.collections)) {
        collection(c, 'a welcome.collections key');
        if (!isObject(meta) || typeof meta.workerType !== 'string' || typeof meta.role !== 'string') fail(`welcome.collections.${c} must be { workerType, role }`);
        cs[c] = { workerType: meta.workerType, role: meta.role };
      }
      const welcome = { t: 'welcome' as const, v: count(m.v, 'welcome.v'), epoch: token(m.epoch, 'welcome.epoch'), head: count(m.head, 'welcome.head'), reset: m.reset, collections: cs };
      if (m.updateRequired !== undefined && (!Array.isArray(m.updateRequired) || m.updateRequired.some((t) => typeof t !== 'string'))) fail('welcome.updateRequired must be an array of worker types');
      return {
        ...welcome,
        ...(m.grant === undefined ? {} : { grant: wireGrant(m.grant, 'welcome.grant') }),
        ...(m.updateRequired === undefined ? {} : { updateRequired: m.updateRequired as string[] }),
      };
    }
    case 'grant':
      only(m, ['t', 'grant'], 'grant');
      return { t: 'grant', grant: wireGrant(m.grant, 'grant.grant') };
    case 'page': {
      only(m, ['t', 'n', 'cs', 'from', 'to', 'changes', 'head'], 'page');
      const from = count(m.from, 'page.from');
      const to = count(m.to, 'page.to');
      if (to < from) fail('page.to is below page.from');
      if (!Array.isArray(m.changes)) fail('page.changes must be an array');
      const cs = collections(m.cs, 'page.cs');
      const changes = m.changes.map(wireChange);
      let last = from;
      for (const c of changes) {
        if (c.s <= last || c.s > to) fail('page.changes must ascend by sync id within (from, to]');
        if (!cs.includes(c.c)) fail(`page.changes holds a change of ${c.c}, which the page does not cover`);
        last = c.s;
      }
      return { t: 'page', n: count(m.n, 'page.n'), cs, from, to, changes, head: count(m.head, 'page.head') };
    }
    case 'result':
      return { t: 'result', ...wireResult(m, 'result', 't') };
    case 'results': {
      only(m, ['t', 'rs'], 'results');
      if (!Array.isArray(m.rs) || m.rs.length === 0 || m.rs.length > MAX_BATCH) fail(`results.rs must be an array of 1 to ${MAX_BATCH} results`);
      const rs = m.rs.map((r, i) => {
        if (!isObject(r)) fail(`results.rs[${i}] must be an object`);
        return wireResult(r, `results.rs[${i}]`);
      });
      return { t: 'results', rs };
    }
    case 'admin-result': {
      const n = count(m.n, 'admin-result.n');
      if (m.ok === true) {
        only(m, ['t', 'n', 'ok', 'value'], 'admin-result');
        if (!isObject(m.value)) fail('admin-result.value must be an object');
        return { t: 'admin-result', n, ok: true, value: m.value as JsonObject };
      }
      only(m, ['t', 'n', 'ok', 'code', 'message'], 'admin-result');
      if (m.ok !== false || typeof m.code !== 'string' || typeof m.message !== 'string') fail('admin-result is { ok: true, value } or { ok: false, code, message }');
      return { t: 'admin-result', n, ok: false, code: m.code.slice(0, 40), message: m.message.slice(0, 1000) };
    }
    case 'error':
      only(m, ['t', 'code', 'message'], 'error');
      if (typeof m.code !== 'string' || typeof m.message !== 'string') fail('error.code and error.message must be strings');
      return { t: 'error', code: m.code.slice(0, 40), message: m.message.slice(0, 1000) };
    case 'ping':
    case 'pong':
      only(m, ['t'], m.t);
      return { t: m.t };
    default:
      return fail(`unknown message type ${JSON.stringify(String(m.t).slice(0, 40))}`);
  }
}

/** One message as a frame. */
export function encode(message: ClientMessage | EdgeMessage): string {
  return JSON.stringify(message);
}

/** Keys of the Frontend's outbox and shadows: one per document (so worker ids stay under this). */
export const MAX_WORKER_ID = MAX_ID_LENGTH - 70;
