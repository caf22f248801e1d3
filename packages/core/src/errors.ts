/**
 * Typed errors. Every error the Store throws is a `CseError` with a stable `code`.
 *
 * Recognise errors with `isCseError(e, code)`, not `instanceof`: an application may load two
 * copies of `@cse/core` (two bundles, two versions), and `instanceof` fails across copies. The
 * guard checks a well-known symbol and the `code` string instead.
 */

/** The stable error codes. New codes may be added; existing ones never change meaning. */
export const ErrorCode = {
  /** The document (or another named thing) does not exist. `get` returns `undefined` instead. */
  NOT_FOUND: 'NOT_FOUND',
  /** A precondition failed: wrong `expectedVersion`, insert of an existing id, changed identity. */
  CONFLICT: 'CONFLICT',
  /** Bad input, rejected before anything was written. */
  VALIDATION: 'VALIDATION',
  /** The adapter does not declare the capability this call needs. */
  UNSUPPORTED: 'UNSUPPORTED',
  /** The store or adapter was closed. */
  CLOSED: 'CLOSED',
  /** The backend failed; the original error is in `cause`. */
  BACKEND: 'BACKEND',
  /** A sync cursor belongs to another epoch of the store (compacted tombstones, another store). */
  RESET_REQUIRED: 'RESET_REQUIRED',
  /** A sync peer broke the protocol: a malformed, oversized, unexpected or out-of-order message. */
  PROTOCOL: 'PROTOCOL',
  /** A sync peer asked for what it may not do: write Identity or Observed, or outside its subscription. */
  FORBIDDEN: 'FORBIDDEN',
  /** This Frontend was revoked by its Edge (refused by the Edge or the relay): retrying will not help. */
  REVOKED: 'REVOKED',
  /** The stored data is damaged (e.g. committed changes lost); the store refuses to open rather than serve it silently. */
  CORRUPT: 'CORRUPT',
  /** The peer speaks a schema version of a worker type this side cannot convert to or from (no lossless `down`, or newer): update the older side. */
  UPDATE_REQUIRED: 'UPDATE_REQUIRED',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const BRAND = Symbol.for('@cse/core:CseError');

export interface CseErrorOptions {
  cause?: unknown;
  /** Extra facts for the caller (collection, id, field path, ...). Plain data only. */
  details?: Record<string, unknown>;
}

/** Base class of every error CSE throws. */
export class CseError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: CseErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
    Object.defineProperty(this, BRAND, { value: true });
  }

  override get name(): string {
    return 'CseError';
  }
}

/** A precondition failed. `current` is the stored document (metadata included), if any. */
export class ConflictError extends CseError {
  readonly current: Record<string, unknown> | undefined;

  constructor(message: string, current?: Record<string, unknown>, options: CseErrorOptions = {}) {
    super(ErrorCode.CONFLICT, message, options);
    this.current = current;
  }

  override get name(): string {
    return 'ConflictError';
  }
}

export class ValidationError extends CseError {
  constructor(message: string, options: CseErrorOptions = {}) {
    super(ErrorCode.VALIDATION, message, options);
  }

  override get name(): string {
    return 'ValidationError';
  }
}

export class NotFoundError extends CseError {
  constructor(message: string, options: CseErrorOptions = {}) {
    super(ErrorCode.NOT_FOUND, message, options);
  }

  override get name(): string {
    return 'NotFoundError';
  }
}

export class UnsupportedError extends CseError {
  constructor(message: string, options: CseErrorOptions = {}) {
    super(ErrorCode.UNSUPPORTED, message, options);
  }

  override get name(): string {
    return 'UnsupportedError';
  }
}

export class ClosedError extends CseError {
  constructor(message = 'the store is closed', options: CseErrorOptions = {}) {
    super(ErrorCode.CLOSED, message, options);
  }

  override get name(): string {
    return 'ClosedError';
  }
}

export class BackendError extends CseError {
  constructor(message: string, options: CseErrorOptions = {}) {
    super(ErrorCode.BACKEND, message, options);
  }

  override get name(): string {
    return 'BackendError';
  }
}

export class ResetRequiredError extends CseError {
  constructor(message: string, options: CseErrorOptions = {}) {
    super(ErrorCode.RESET_REQUIRED, message, options);
  }

  override get name(): string {
    return 'ResetRequiredError';
  }
}

/**
 * True when `e` is a CSE error (from any copy of `@cse/core`), and, if `code` is given, has
 * that code.
 */
export function isCseError(e: unknown, code?: ErrorCode): e is CseError {
  if (typeof e !== 'object' || e === null) return false;
  const branded = (e as Record<symbol, unknown>)[BRAND] === true;
  if (!branded) return false;
  return code === undefined || (e as { code?: unknown }).code === code;
}

/**
 * Wraps anything a backend threw as a `BackendError` (keeping CSE errors as they are). Adapters
 * call this at their boundary.
 */
export function toBackendError(e: unknown, what: string): CseError {
  if (isCseError(e)) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new BackendError(`${what}: ${message}`, { cause: e });
}

/**
 * A short description of any value for an error message. Never throws, whatever the value
 * (`String()` throws on an object whose `toString` is not callable, or on a symbol in a template).
 */
export function describeValue(v: unknown): string {
  try {
    if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
    if (typeof v === 'symbol' || typeof v === 'bigint') return `a ${typeof v}`;
    if (typeof v === 'object' && v !== null) return Array.isArray(v) ? 'an array' : 'an object';
    return String(v);
  } catch {
    return `a ${typeof v}`;
  }
}
