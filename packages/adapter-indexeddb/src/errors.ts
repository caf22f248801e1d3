import { BackendError, ClosedError, isCseError } from '@cse/core';
import type { CseError } from '@cse/core';

/**
 * Maps what IndexedDB threw to a `CseError`, keeping the original in `cause`.
 *
 * - CSE errors pass through.
 * - When the connection is known to be closed (`closedReason`), or IndexedDB says so with an
 *   `InvalidStateError` (what `transaction()` throws on a closing or closed connection, the only
 *   way this adapter's calls meet that error), `CLOSED`.
 * - Everything else (`QuotaExceededError`, `AbortError`, `VersionError`, `ConstraintError`,
 *   `UnknownError`, ...) is `BACKEND`, its DOMException name in the message.
 */
export function toIndexedDbError(e: unknown, what: string, closedReason?: string): CseError {
  if (isCseError(e)) return e;
  if (closedReason !== undefined) return new ClosedError(closedReason, { cause: e });
  const { name, message } = describe(e);
  if (name === 'InvalidStateError') {
    return new ClosedError(`${what}: the IndexedDB connection is closed (${message})`, { cause: e });
  }
  return new BackendError(`${what}: ${name}: ${message}`, { cause: e, details: { domException: name } });
}

/** DOMExceptions are not always `instanceof Error` (fake-indexeddb, other realms): read the fields. */
function describe(e: unknown): { name: string; message: string } {
  if (typeof e !== 'object' || e === null) return { name: 'Error', message: String(e) };
  const { name, message } = e as { name?: unknown; message?: unknown };
  return { name: typeof name === 'string' ? name : 'Error', message: typeof message === 'string' ? message : String(e) };
}
