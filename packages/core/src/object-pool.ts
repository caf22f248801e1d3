/**
 * ObjectPool: shared objects by key with reference counts (one connection or one SyncState
 * shared by many FSM workers). Every `getOrCreate` caller holds its own reference; the object is
 * disposed when the last reference is released. Creation is per key: concurrent callers share
 * one creation, and a slow factory never blocks other keys (there is no pool-wide lock at all).
 */
import { NotFoundError, ValidationError } from './errors.js';

interface Entry<T> {
  refs: number;
  creating: Promise<T>;
  value?: T;
  created: boolean;
}

async function dispose(value: unknown): Promise<void> {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return;
  const v = value as { [Symbol.asyncDispose]?: () => Promise<void>; close?: () => unknown };
  if (typeof v[Symbol.asyncDispose] === 'function') await v[Symbol.asyncDispose]?.();
  else if (typeof v.close === 'function') await v.close();
}

function checkKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key === '') throw new ValidationError('a pool key must be a non-empty string');
}

export class ObjectPool<T = unknown> {
  readonly #entries = new Map<string, Entry<T>>();

  /**
   * Returns the object for `key`, creating it with `factory` if there is none, and adds one
   * reference for this caller. Concurrent callers for one key share a single creation. If the
   * factory throws, every waiting caller gets the error and nothing is stored.
   *
   * @throws `VALIDATION` (empty key, no factory, factory returned null/undefined).
   */
  async getOrCreate(key: string, factory: () => T | Promise<T>): Promise<T> {
    checkKey(key);
    if (typeof factory !== 'function') throw new ValidationError('factory must be a function');
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      const created: Entry<T> = { refs: 0, created: false, creating: Promise.resolve(undefined as T) };
      created.creating = (async () => {
        try {
          const value = await factory();
          if (value === null || value === undefined) throw new ValidationError(`factory for "${key}" returned ${String(value)}`);
          created.value = value;
          created.created = true;
          return value;
        } catch (e) {
          if (this.#entries.get(key) === created) this.#entries.delete(key);
          throw e;
        }
      })();
      this.#entries.set(key, created);
      entry = created;
    }
    entry.refs++;
    try {
      return await entry.creating;
    } catch (e) {
      entry.refs--;
      throw e;
    }
  }

  /**
   * Adds a reference to an existing object and returns it.
   *
   * @throws `NOT_FOUND` when the key has no created object.
   */
  acquire(key: string): T {
    checkKey(key);
    const entry = this.#entries.get(key);
    if (entry === undefined || !entry.created) throw new NotFoundError(`no pooled object with key "${key}"`);
    entry.refs++;
    return entry.value as T;
  }

  /**
   * Drops one reference. At zero the object leaves the pool and is disposed
   * (`[Symbol.asyncDispose]()` or `close()`); a disposal error is thrown after removal.
   *
   * @throws `NOT_FOUND` when the key is unknown.
   */
  async release(key: string): Promise<void> {
    checkKey(key);
    const entry = this.#entries.get(key);
    if (entry === undefined || !entry.created) throw new NotFoundError(`no pooled object with key "${key}"`);
    entry.refs--;
    if (entry.refs > 0) return;
    this.#entries.delete(key);
    await dispose(entry.value);
  }

  /** The object, without taking a reference, or `undefined`. */
  get(key: string): T | undefined {
    const entry = this.#entries.get(key);
    return entry?.created ? entry.value : undefined;
  }

  /** References held on `key` (0 when unknown). */
  refCount(key: string): number {
    return this.#entries.get(key)?.refs ?? 0;
  }

  has(key: string): boolean {
    return this.#entries.get(key)?.created === true;
  }

  get size(): number {
    return [...this.#entries.values()].filter((e) => e.created).length;
  }

  /** Disposes every created object and empties the pool; errors are gathered in an AggregateError. */
  async clear(): Promise<void> {
    const entries = [...this.#entries.values()].filter((e) => e.created);
    this.#entries.clear();
    const errors: unknown[] = [];
    for (const e of entries) {
      try {
        await dispose(e.value);
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, `${errors.length} pooled object(s) failed to close`);
  }
}
