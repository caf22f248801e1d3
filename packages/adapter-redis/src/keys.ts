import { ValidationError } from '@cse/core';

/** Longest namespace accepted, in UTF-16 code units. */
export const MAX_NAMESPACE_LENGTH = 256;

/**
 * The Redis key names of one namespace.
 *
 * Every key is `cse:{<namespace>}:...`: the braces are a Redis Cluster hash tag, so all keys of a
 * namespace live in one slot (a Lua script may touch them together) while different namespaces
 * spread over the cluster. The namespace is percent-encoded, so it never holds `{`, `}` or `:`
 * and cannot end the tag early or reach another namespace's keys. Collection names never hold
 * `:` (core's naming rule), and ids are written as JSON strings: an injective encoding that also
 * keeps lone surrogates apart, which plain UTF-8 would fold into U+FFFD.
 */
export class Keys {
  /** Every key of the namespace starts with this. */
  readonly prefix: string;
  /** Hash: `last` (the sync-id counter) and `compacted` (the compaction watermark). */
  readonly meta: string;
  /** Sorted set of every document's member, scored by its current `_sync_id`. */
  readonly index: string;
  /** Set of collection names that hold at least one record. */
  readonly collections: string;
  /**
   * Pub/sub channel the commit script publishes on. Not a key, but named with the namespace's
   * hash tag like one, so a move to sharded pub/sub (SPUBLISH) keeps it in the store's slot.
   */
  readonly changes: string;

  constructor(namespace: string) {
    assertNamespace(namespace);
    this.prefix = `cse:{${encodeURIComponent(namespace)}}:`;
    this.meta = `${this.prefix}meta`;
    this.index = `${this.prefix}index`;
    this.collections = `${this.prefix}collections`;
    this.changes = `${this.prefix}changes`;
  }

  /** Names one document inside the index sets; `doc()` is the prefix plus `d:` plus this. */
  member(collection: string, id: string): string {
    return `${collection}:${JSON.stringify(id)}`;
  }

  /** Hash holding one document's record. */
  doc(collection: string, id: string): string {
    return this.memberDoc(this.member(collection, id));
  }

  /** Hash holding the record of the document named `member` (as `member()` builds it). */
  memberDoc(member: string): string {
    return `${this.prefix}d:${member}`;
  }

  /** Sorted set of one collection's members, scored by `_sync_id`. */
  collection(collection: string): string {
    return `${this.prefix}z:${collection}`;
  }
}

/** Throws a `ValidationError` unless `namespace` is a usable namespace. */
export function assertNamespace(namespace: unknown): asserts namespace is string {
  if (typeof namespace !== 'string' || namespace.length === 0) {
    throw new ValidationError('a Redis namespace must be a non-empty string');
  }
  if (namespace.length > MAX_NAMESPACE_LENGTH) {
    throw new ValidationError(`a Redis namespace is at most ${MAX_NAMESPACE_LENGTH} characters long, got ${namespace.length}`);
  }
  if (/\p{Cs}/u.test(namespace)) {
    throw new ValidationError('a Redis namespace must be well-formed unicode (no lone surrogates)');
  }
}
