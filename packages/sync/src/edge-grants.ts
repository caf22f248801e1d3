/**
 * The Edge's side of grants for one session: what `EdgeSession` asks at its few hook points
 * (hello, each write, a grant change, the grant's expiry). Kept apart from the session so the
 * streaming code stays about streaming.
 */
import type { Registry } from '@cse/core';
import type { AdminHandler } from './admin.js';
import { CseError, ErrorCode } from '@cse/core';
import type { Grant } from './grants.js';
import { canRead, canWrite } from './grants.js';

/** Who is on a session, as the encrypted channel established it. */
export interface SessionAuth {
  /** The Frontend's key id (from the handshake, never from anything the Frontend says). */
  readonly frontendId: string;
  readonly grant: Grant;
  /** Runs administration requests (only granted to an `admin` grant, checked per request). Default: none are answered. */
  readonly admin?: AdminHandler;
}

/** Longest timer Node keeps exactly (about 24.8 days); a later expiry is checked again then. */
const MAX_TIMER = 2 ** 31 - 1;

export class SessionGrant {
  #grant: Grant | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #registry: Registry;
  readonly #onExpiry: () => void;

  /** `grant` undefined: a session without a channel identity (direct link, tests) that the grant checks do not limit. */
  constructor(registry: Registry, grant: Grant | undefined, onExpiry: () => void) {
    this.#registry = registry;
    this.#onExpiry = onExpiry;
    this.set(grant);
  }

  get grant(): Grant | undefined {
    return this.#grant;
  }

  set(grant: Grant | undefined): void {
    this.#grant = grant;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (grant?.expiresAt !== undefined) {
      const wait = grant.expiresAt - Date.now();
      if (wait > 0) {
        this.#timer = setTimeout(() => (wait > MAX_TIMER ? this.set(this.#grant) : this.#onExpiry()), Math.min(wait + 1, MAX_TIMER));
        this.#timer.unref?.();
      }
    }
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** The collections of `collections` the grant does not let the Frontend read. */
  unreadable(collections: Iterable<string>): string[] {
    const g = this.#grant;
    if (g === undefined) return [];
    const now = Date.now();
    return [...collections].filter((c) => !this.#registry.isRegistered(c) || !canRead(g, { collection: c, ...this.#registry.getMetadata(c) }, now));
  }

  /** A `FORBIDDEN` error for a subscription outside the grant, or undefined when it is inside. */
  checkSubscription(collections: Iterable<string>): CseError | undefined {
    const out = this.unreadable(collections);
    if (out.length === 0) return undefined;
    return new CseError(ErrorCode.FORBIDDEN, `this Frontend's grant does not cover ${out.slice(0, 5).join(', ')}${out.length > 5 ? ` and ${out.length - 5} more` : ''}`);
  }

  /** Why a write to `collection` is refused by the grant, or undefined when it is allowed. */
  refuseWrite(collection: string): string | undefined {
    const g = this.#grant;
    if (g === undefined) return undefined;
    if (canWrite(g, { collection, ...this.#registry.getMetadata(collection) })) return undefined;
    return `this Frontend's grant does not allow writing ${collection}`;
  }
}
