/**
 * Small assertions with messages that name the guarantee. The suite does not use vitest's
 * `expect`, so the same checks run inside vitest, in `runGroups` and in any tool.
 */
import { isCseError } from '@cse/core';

/** A broken guarantee. */
export class Violation extends Error {
  override get name(): string {
    return 'Violation';
  }
}

export function fail(message: string): never {
  throw new Violation(message);
}

export function ok(condition: unknown, message: string): asserts condition {
  if (!condition) fail(message);
}

/** Strict structural equality of JSON-like values (key order ignored, `undefined` kept apart from missing). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') {
    return typeof a === 'number' && typeof b === 'number' && Number.isNaN(a) && Number.isNaN(b);
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const y = b as unknown[];
    return a.length === y.length && a.every((v, i) => deepEqual(v, y[i]));
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const kx = Object.keys(x).sort();
  const ky = Object.keys(y).sort();
  return kx.length === ky.length && kx.every((k, i) => k === ky[i] && deepEqual(x[k], y[k]));
}

/** JSON-ish rendering for messages (cut short; `undefined` shown). */
export function show(v: unknown, max = 600): string {
  let s: string;
  try {
    s = v === undefined ? 'undefined' : JSON.stringify(v, (_k, x: unknown) => (x === undefined ? '<undefined>' : typeof x === 'bigint' ? `${x}n` : x));
  } catch {
    s = String(v);
  }
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

/** The path of the first difference between two JSON-like values, e.g. `$.changes[2].doc._created_at`. */
export function firstDifference(a: unknown, b: unknown, at = '$'): string | undefined {
  if (deepEqual(a, b)) return undefined;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object' || Array.isArray(a) !== Array.isArray(b)) return at;
  if (Array.isArray(a)) {
    const y = b as unknown[];
    for (let i = 0; i < Math.max(a.length, y.length); i++) {
      const d = firstDifference(a[i], y[i], `${at}[${i}]`);
      if (d !== undefined) return d;
    }
    return at;
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  for (const k of [...new Set([...Object.keys(x), ...Object.keys(y)])].sort()) {
    if (!(k in x) || !(k in y)) return `${at}.${k}`;
    const d = firstDifference(x[k], y[k], `${at}.${k}`);
    if (d !== undefined) return d;
  }
  return at;
}

function at(v: unknown, path: string): unknown {
  let cur = v;
  for (const m of path.slice(1).matchAll(/\.([^.[]*)|\[(\d+)\]/g)) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[m[1] ?? (m[2] as string)];
  }
  return cur;
}

export function equal(actual: unknown, expected: unknown, what: string): void {
  if (deepEqual(actual, expected)) return;
  const path = firstDifference(actual, expected) ?? '$';
  const detail = path === '$' ? '' : `\n    first difference at ${path}: expected ${show(at(expected, path), 200)}, actual ${show(at(actual, path), 200)}`;
  fail(`${what}${detail}\n    expected: ${show(expected)}\n    actual:   ${show(actual)}`);
}

/** Awaits `fn` and requires a `CseError` with `code`; returns the error. */
export async function rejects(fn: () => unknown, code: string, what: string): Promise<Error & { code: string }> {
  let result: unknown;
  try {
    result = await fn();
  } catch (e) {
    if (!isCseError(e)) fail(`${what}: expected a CseError with code ${code}, got a non-CSE error: ${e instanceof Error ? `${e.name}: ${e.message}` : show(e)}`);
    if (e.code !== code) fail(`${what}: expected code ${code}, got ${e.code} (${e.message})`);
    return e as Error & { code: string };
  }
  return fail(`${what}: expected a ${code} error, but it succeeded with ${show(result)}`);
}

/** Outcome of a call: its value, or the code of the `CseError` it threw. Other errors pass through as a violation. */
export type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly code: string; readonly current?: unknown };

export async function outcome<T>(fn: () => Promise<T>, what: string): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (e) {
    if (!isCseError(e)) fail(`${what} threw a non-CSE error (guarantee 10): ${e instanceof Error ? `${e.name}: ${e.message}` : show(e)}`);
    const current = (e as { current?: unknown }).current;
    return { ok: false, code: e.code, ...(current !== undefined ? { current } : {}) };
  }
}
