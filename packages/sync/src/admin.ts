/**
 * Administration through the sync channel: a Frontend whose grant has `admin` may pair, grant,
 * list and revoke other Frontends of its Edge (`FrontendSync.admin`). The Edge checks the grant at
 * every request; what the request does is `SecureEdge`'s own API, so the result is the same as
 * the operator's `cse-edge` commands. One request needs no `admin` grant: `history`, the Edge's
 * record of the writes it applied to one Desired document (when, which version, by which Frontend
 * and its label), answered to a Frontend whose grant lets it read that collection.
 */
import type { JsonObject, Registry } from '@cse/core';
import { CseError, ErrorCode, RECEIPT_COLLECTION, Replica, ValidationError, isCseError } from '@cse/core';
import type { Grant } from './grants.js';
import { GRANT_PRESETS, grantPreset, normalizeGrant } from './grants.js';
import type { EdgeMessage } from './protocol.js';
import { encode } from './protocol.js';
import type { SecureEdge } from './secure/secure-edge.js';
import type { Transport } from './transport.js';

export type AdminOp = 'pair' | 'grant' | 'revoke' | 'list' | 'history';
export const ADMIN_OPS: readonly AdminOp[] = ['pair', 'grant', 'revoke', 'list', 'history'];

/** One write the Edge applied to a Desired document (`history`'s answer, newest first). */
export interface AppliedWrite {
  /** The document's version that write made. */
  readonly version: number;
  /** When the Edge applied it (ISO time). */
  readonly at: string;
  readonly frontendId: string;
  /** The Frontend's label as the Edge's paired list has it (its grant's label otherwise). */
  readonly label: string | undefined;
}

/** Most entries one `history` request returns. */
const HISTORY_MAX = 200;

/** Runs one administration request for `frontendId` (already checked to hold an admin grant). */
export type AdminHandler = (op: AdminOp, args: JsonObject, frontendId: string) => Promise<JsonObject>;

/** A grant in a request: a preset name (with `types` for what it may write) or a full grant. */
function requestedGrant(v: unknown, args: JsonObject, registry: Registry): Grant {
  const types = Array.isArray(args.types) ? (args.types as string[]) : undefined;
  const label = typeof args.label === 'string' ? args.label : undefined;
  const expiresAt = typeof args.expiresAt === 'number' ? args.expiresAt : undefined;
  const g = typeof v === 'string' && (GRANT_PRESETS as readonly string[]).includes(v) ? grantPreset(v, { ...(types ? { workerTypes: types } : {}), ...(label ? { label } : {}), ...(expiresAt ? { expiresAt } : {}) }) : v;
  return normalizeGrant(g, registry);
}

function frontendIdOf(args: JsonObject): string {
  if (typeof args.frontendId !== 'string' || args.frontendId.length === 0) throw new ValidationError('frontendId is required');
  return args.frontendId;
}

/** The Edge side: `SecureEdge.serve` hands this to each session. */
export function secureAdmin(secure: SecureEdge, registry: Registry): AdminHandler {
  return async (op, args): Promise<JsonObject> => {
    switch (op) {
      case 'pair': {
        const grant = requestedGrant(args.grant ?? 'viewer', args, registry);
        const ttlMs = typeof args.ttlMs === 'number' ? args.ttlMs : undefined;
        const offer = await secure.createPairingCode({ grant, ...(ttlMs === undefined ? {} : { ttlMs }), ...(grant.label === undefined ? {} : { label: grant.label }) });
        return { code: offer.code, expiresAt: offer.expiresAt, grant: offer.grant as unknown as JsonObject } as JsonObject;
      }
      case 'grant': {
        const id = frontendIdOf(args);
        if (!(await secure.grant(id, requestedGrant(args.grant, args, registry)))) throw new CseError(ErrorCode.NOT_FOUND, `no paired Frontend ${id}`);
        return { ok: true } as JsonObject;
      }
      case 'revoke':
        return { revoked: await secure.revoke(frontendIdOf(args)) } as JsonObject;
      case 'list':
        return { paired: JSON.parse(JSON.stringify(await secure.listPaired())) as JsonObject[] } as JsonObject;
      case 'history':
        return { history: (await appliedWrites(secure, registry, args)) as unknown as JsonObject[] } as JsonObject;
    }
  };
}

/** `history`: the receipts of the writes applied to `args.collection`/`args.id`, newest first, with the writers' labels. */
async function appliedWrites(secure: SecureEdge, registry: Registry, args: JsonObject): Promise<AppliedWrite[]> {
  const { collection, id } = args;
  if (typeof collection !== 'string' || !registry.isRegistered(collection) || registry.getMetadata(collection).role !== 'desired') {
    throw new ValidationError('history needs the collection of a Desired document');
  }
  if (typeof id !== 'string' || id.length === 0) throw new ValidationError('history needs the id of a document');
  const limit = typeof args.limit === 'number' && Number.isSafeInteger(args.limit) && args.limit > 0 ? Math.min(args.limit, HISTORY_MAX) : 50;
  const [receipts, paired] = await Promise.all([new Replica(secure.store).scan(RECEIPT_COLLECTION), secure.listPaired()]);
  const labels = new Map(paired.map((p) => [p.frontendId, p.label ?? p.grant?.label]));
  return receipts
    .filter((r) => !r.deleted && r.doc.collection === collection && r.doc.doc === id && typeof r.doc.version === 'number')
    .map((r): AppliedWrite => {
      // Receipts name the writer by its key id (a secure channel); older ones only by its sync client id.
      const frontendId = typeof r.doc.frontendId === 'string' ? r.doc.frontendId : typeof r.doc.client === 'string' ? r.doc.client : '';
      return { version: r.doc.version as number, at: String(r.doc.at ?? ''), frontendId, label: labels.get(frontendId) };
    })
    .sort((a, b) => b.version - a.version || b.at.localeCompare(a.at))
    .slice(0, limit);
}

/**
 * The Edge side of one request: the grant is checked now (it may have changed since the session
 * began). `readable` says whether the session's grant lets the Frontend read a collection
 * (`history` asks it instead of `admin`).
 */
export async function answerAdmin(
  m: { n: number; op: AdminOp; args: JsonObject },
  grant: Grant | undefined,
  handler: AdminHandler | undefined,
  frontendId: string | undefined,
  readable: (collection: string) => boolean = () => false,
): Promise<EdgeMessage> {
  if (m.op === 'history') {
    const c = m.args.collection;
    if (grant === undefined || handler === undefined || frontendId === undefined || typeof c !== 'string' || !readable(c)) {
      return { t: 'admin-result', n: m.n, ok: false, code: 'FORBIDDEN', message: `this Frontend's grant does not allow reading ${typeof c === 'string' ? c.slice(0, 100) : 'that collection'}` };
    }
  } else if (grant?.admin !== true || handler === undefined || frontendId === undefined) {
    return { t: 'admin-result', n: m.n, ok: false, code: 'FORBIDDEN', message: "this Frontend's grant does not allow administration" };
  }
  try {
    return { t: 'admin-result', n: m.n, ok: true, value: await handler(m.op, m.args, frontendId) };
  } catch (e) {
    return { t: 'admin-result', n: m.n, ok: false, code: isCseError(e) ? e.code : 'INTERNAL', message: e instanceof Error ? e.message : String(e) };
  }
}

/** The Frontend side: requests on the current connection, answered in any order. */
export class AdminClient {
  #next = 1;
  readonly #waiting = new Map<number, { resolve: (v: JsonObject) => void; reject: (e: unknown) => void }>();

  request(t: Transport | undefined, op: AdminOp, args: JsonObject): Promise<JsonObject> {
    if (!ADMIN_OPS.includes(op)) return Promise.reject(new ValidationError(`unknown administration request ${JSON.stringify(op)}`));
    if (t === undefined) return Promise.reject(new CseError(ErrorCode.CLOSED, 'not connected to the Edge: administration needs a live session'));
    const n = this.#next++;
    return new Promise<JsonObject>((resolve, reject) => {
      this.#waiting.set(n, { resolve, reject });
      t.send(encode({ t: 'admin', n, op, args }));
    });
  }

  answer(m: Extract<EdgeMessage, { t: 'admin-result' }>): void {
    const w = this.#waiting.get(m.n);
    this.#waiting.delete(m.n);
    if (w === undefined) return;
    if (m.ok) w.resolve(m.value);
    else w.reject(new CseError(m.code in ErrorCode ? (m.code as ErrorCode) : ErrorCode.BACKEND, m.message));
  }

  /** The connection closed: its requests fail (the caller may ask again; a pair that was made shows in `list`). */
  closed(): void {
    for (const w of this.#waiting.values()) w.reject(new CseError(ErrorCode.CLOSED, 'the connection closed before the Edge answered'));
    this.#waiting.clear();
  }
}
