/**
 * A hostile relay double for tests: a man in the middle between a Frontend's connection and the
 * Edge's, forwarding frames with attacks drawn from a seeded generator: bit flips, replays,
 * reorders, drops, injected records, and frames spliced in from another concurrent session. It
 * knows what each side sent and what it delivered, so a test can tell which sessions received
 * a stream that differs from what was sent (and must therefore be torn down).
 */
import type { Transport } from '@cse/sync';

export type Attack = 'flip' | 'replay' | 'reorder' | 'drop' | 'inject' | 'splice';
export const ATTACKS: readonly Attack[] = ['flip', 'replay', 'reorder', 'drop', 'inject', 'splice'];

export interface AttackPlan {
  on: boolean;
  /** Chance that a frame is attacked. */
  rate: number;
  kinds: readonly Attack[];
  /** Attack only frames whose index in their direction is at least this (0: handshake frames too). */
  from?: number;
  /** Attacks left (unlimited when absent); each attack takes one. */
  budget?: number;
}

type Dir = 'f2e' | 'e2f';

class RelayEnd implements Transport {
  onmessage: ((frame: string) => void) | undefined;
  onclose: ((reason: string) => void) | undefined;
  closed = false;
  constructor(
    readonly session: RelaySession,
    readonly dir: Dir,
  ) {}
  get buffered(): number {
    return 0;
  }
  send(frame: string): void {
    if (!this.closed) this.session.forward(this.dir, frame);
  }
  close(reason = 'closed'): void {
    this.session.close(reason);
  }
}

export class RelaySession {
  readonly sent: Record<Dir, string[]> = { f2e: [], e2f: [] };
  readonly delivered: Record<Dir, string[]> = { f2e: [], e2f: [] };
  /** Attacks applied, in order, with the direction and the index of the frame attacked. */
  readonly attacks: { kind: Attack; dir: Dir; at: number }[] = [];
  /** True once the relay delivered, to an open end, a stream that is not a prefix of what was sent. */
  compromised = false;
  readonly frontend: RelayEnd;
  readonly edge: RelayEnd;
  #held: Partial<Record<Dir, string>> = {};
  #chain: Promise<void> = Promise.resolve();
  #closing = false;

  constructor(
    readonly relay: HostileRelay,
    readonly k: number,
  ) {
    this.frontend = new RelayEnd(this, 'f2e');
    this.edge = new RelayEnd(this, 'e2f');
  }

  forward(dir: Dir, frame: string): void {
    const at = this.sent[dir].length;
    this.sent[dir].push(frame);
    this.relay.pool[dir].push({ k: this.k, frame });
    if (this.relay.pool[dir].length > 200) this.relay.pool[dir].shift();
    const out: string[] = [];
    const held = this.#held[dir];
    const plan = this.relay.plan;
    const rng = this.relay.rng;
    if (plan.on && at >= (plan.from ?? 0) && plan.kinds.length > 0 && (plan.budget ?? 1) > 0 && rng() < plan.rate) {
      if (plan.budget !== undefined) plan.budget--;
      const kind = plan.kinds[Math.floor(rng() * plan.kinds.length)] as Attack;
      this.attacks.push({ kind, dir, at });
      switch (kind) {
        case 'flip':
          out.push(flip(frame, rng));
          break;
        case 'replay': {
          out.push(frame, this.sent[dir][Math.floor(rng() * this.sent[dir].length)] as string);
          break;
        }
        case 'reorder':
          this.#held[dir] = frame;
          break;
        case 'drop':
          break;
        case 'inject':
          out.push(forged(frame, rng), frame);
          break;
        case 'splice': {
          const others = this.relay.pool[dir].filter((p) => p.k !== this.k);
          // A frame of another session with the same sequence number if there is one (the header is readable).
          const same = others.filter((p) => p.frame.slice(0, 12) === frame.slice(0, 12));
          const pick = (same.length > 0 ? same : others)[Math.floor(rng() * (same.length > 0 ? same.length : others.length))];
          out.push(pick?.frame ?? frame);
          break;
        }
      }
    } else {
      out.push(frame);
    }
    if (held !== undefined && this.#held[dir] === held) {
      out.push(held);
      delete this.#held[dir];
    }
    for (const f of out) this.#deliver(dir, f);
  }

  #deliver(dir: Dir, frame: string): void {
    const to = dir === 'f2e' ? this.edge : this.frontend;
    this.#chain = this.#chain.then(async () => {
      await new Promise((r) => setTimeout(r, 0));
      if (to.closed) return;
      const i = this.delivered[dir].length;
      this.delivered[dir].push(frame);
      if (this.sent[dir][i] !== frame) this.compromised = true;
      to.onmessage?.(frame);
    });
  }

  close(reason: string): void {
    if (this.#closing) return;
    this.#closing = true;
    // What was already on its way arrives first, as on a socket.
    this.#chain = this.#chain.then(() => {
      for (const end of [this.frontend, this.edge]) {
        if (end.closed) continue;
        end.closed = true;
        end.onclose?.(reason);
      }
    });
  }
}

export class HostileRelay {
  readonly sessions: RelaySession[] = [];
  readonly pool: Record<Dir, { k: number; frame: string }[]> = { f2e: [], e2f: [] };
  constructor(
    readonly plan: AttackPlan,
    readonly rng: () => number,
  ) {}

  /** A new connection: the Frontend's end and the Edge's end. */
  connect(): RelaySession {
    const s = new RelaySession(this, this.sessions.length);
    this.sessions.push(s);
    return s;
  }
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Flips one bit of the frame's bytes (keeping valid base64url, so the frame reaches the decryption). */
function flip(frame: string, rng: () => number): string {
  const bytes = Buffer.from(frame, 'base64url');
  if (bytes.length === 0 || Buffer.from(bytes).toString('base64url') !== frame) {
    const i = Math.floor(rng() * frame.length);
    return frame.slice(0, i) + (frame[i] === 'A' ? 'B' : 'A') + frame.slice(i + 1);
  }
  const i = Math.floor(rng() * bytes.length);
  bytes[i] = (bytes[i] as number) ^ (1 << Math.floor(rng() * 8));
  return bytes.toString('base64url');
}

/** A record the relay makes up: the real frame's header (type and sequence number) and random bytes. */
function forged(frame: string, rng: () => number): string {
  const bytes = Buffer.from(frame, 'base64url');
  const head = bytes.subarray(0, Math.min(9, bytes.length));
  const body = Buffer.alloc(16 + Math.floor(rng() * 64));
  for (let i = 0; i < body.length; i++) body[i] = Math.floor(rng() * 256);
  const out = Buffer.concat([head, body]).toString('base64url');
  return out.length > 0 ? out : B64[Math.floor(rng() * 64)] ?? 'A';
}
