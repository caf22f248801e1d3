/**
 * Reading what a caller passed without letting anything but `VALIDATION` escape: an options
 * argument that is `null` or not an object, and values whose getters (or proxy traps) throw
 * while the Store reads them. Whatever the caller's objects do, a rejected call is a typed error
 * before anything is written.
 */
import { ValidationError, describeValue, isCseError } from './errors.js';

/** Runs `read`; anything it throws that is not a `CseError` becomes `VALIDATION` naming `what`. */
export function readInput<T>(what: string, read: () => T): T {
  try {
    return read();
  } catch (e) {
    if (isCseError(e)) throw e;
    throw new ValidationError(`${what} could not be read: ${e instanceof Error ? e.message : describeValue(e)}`, { cause: e });
  }
}

/**
 * A snapshot of an options argument: `{}` for `undefined`, the named members (read once, so a
 * getter cannot answer differently later) for an object, `VALIDATION` for anything else.
 */
export function optionsOf<T extends object>(options: T | undefined, what: string, keys: readonly (keyof T & string)[]): T {
  if (options === undefined) return {} as T;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new ValidationError(`${what} must be an object or left out, got ${options === null ? 'null' : describeValue(options)}`);
  }
  const copy: Partial<T> = {};
  for (const key of keys) {
    const value = readInput(`${what}.${key}`, () => options[key]);
    if (value !== undefined) copy[key] = value;
  }
  return copy as T;
}
