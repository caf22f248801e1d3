/**
 * Simulated FSM workers on the Edge: each machine saves its identity once, gets a desired state
 * the first time it starts, and then reports an observed state every tick that moves toward the
 * desired one (stopped → starting → running at the desired speed; running → stopping → stopped).
 * Now and then a running machine fails and recovers a few ticks later.
 *
 * Everything the simulator knows lives in the Edge's store, so a restart resumes where it was;
 * only the time left before a failed machine recovers is kept in memory (a restart recovers
 * failed machines after a fresh random delay).
 */
import type { Doc, Store, TriangularStore } from '@cse/core';
import type { MachineDesired, MachineIdentity, MachineObserved, ObservedState } from '../shared/machines.js';
import { HEARTBEAT_MS, MAX_SPEED, SCHEMA_VERSION, WORKER_TYPE, temperatureOf } from '../shared/machines.js';

export interface SimulatorOptions {
  readonly store: Store;
  readonly triangular: TriangularStore;
  /** Number of machines. Default 36. */
  readonly workers?: number;
  /** Time between two reports. Default 1000 ms. */
  readonly tickMs?: number;
  /** Chance per tick that a running machine fails. Default 0.005. */
  readonly failRate?: number;
  /**
   * Chance per tick that a machine's desired state is changed at its HMI (an operator on the
   * shop floor, written on the Edge): an edit in a dashboard based on the older version then
   * becomes a conflict. Default 0 (npm start sets a small rate).
   */
  readonly hmiRate?: number;
  readonly random?: () => number;
  readonly clock?: () => Date;
  /** The schema version of `machine` the Edge runs (what the simulated machines write). Default SCHEMA_VERSION. */
  readonly schema?: number;
  /**
   * The machines switched off (asked at each tick): they send no report, not even a heartbeat,
   * so the dashboard marks them stale. `npm start` reads them from `<data>/unplugged`.
   */
  readonly unplugged?: () => ReadonlySet<string>;
}

const KINDS = ['pump', 'conveyor', 'mixer', 'press', 'fan', 'compressor'];
const LINES = ['Line A', 'Line B', 'Line C'];
const FAULTS = ['overtemperature', 'motor stall', 'lost encoder signal', 'low oil pressure'];

export function machineId(i: number): string {
  return `m${String(i + 1).padStart(2, '0')}`;
}

export function machineIdentity(i: number): MachineIdentity {
  const kind = KINDS[i % KINDS.length] as string;
  return {
    name: `${kind[0]?.toUpperCase()}${kind.slice(1)} ${String(i + 1).padStart(2, '0')}`,
    kind,
    line: LINES[Math.floor(i / 12) % LINES.length] as string,
    serial: `SN-${(48_211 + i * 7919).toString(36).toUpperCase()}`,
  };
}

function userFields<T>(doc: Doc | undefined): T | undefined {
  if (doc === undefined) return undefined;
  return Object.fromEntries(Object.entries(doc).filter(([k]) => !k.startsWith('_'))) as T;
}

/** One step of a machine toward its desired state. `failing` forces a failure this tick. */
export function step(o: MachineObserved, d: MachineDesired, failing: boolean, random: () => number): Omit<MachineObserved, 'reportedAt'> {
  const target = d.state === 'running' ? Math.max(0, Math.min(MAX_SPEED, d.speed)) : 0;
  const toward = (speed: number, goal: number): number => {
    const delta = goal - speed;
    const move = Math.max(50, Math.abs(delta) * 0.35);
    return Math.abs(delta) <= move ? goal : Math.round(speed + Math.sign(delta) * move);
  };
  let state: ObservedState = o.state;
  let speed = o.speed;
  if (failing && (state === 'running' || state === 'starting')) {
    return { state: 'failed', speed: 0, temperatureC: o.temperatureC, error: FAULTS[Math.floor(random() * FAULTS.length)] as string };
  }
  switch (state) {
    case 'failed':
      return { state: 'failed', speed: 0, temperatureC: cool(o.temperatureC, 0, random), ...(o.error === undefined ? {} : { error: o.error }) };
    case 'stopped':
      if (d.state === 'running') state = 'starting';
      break;
    case 'starting':
      speed = toward(speed, target);
      if (d.state === 'stopped') state = 'stopping';
      else if (speed === target) state = 'running';
      break;
    case 'running':
      if (d.state === 'stopped') state = 'stopping';
      speed = toward(speed, target);
      break;
    case 'stopping':
      speed = toward(speed, 0);
      if (d.state === 'running') state = 'starting';
      else if (speed === 0) state = 'stopped';
      break;
  }
  return { state, speed, temperatureC: cool(o.temperatureC, speed, random) };
}

/** Temperature follows speed slowly, in half degrees, with a little noise. */
function cool(t: number, speed: number, random: () => number): number {
  const goal = 22 + speed / 60;
  const next = t + (goal - t) * 0.2 + (random() - 0.5) * 0.6;
  return Math.round(next * 2) / 2;
}

function sameFields(a: object, b: object): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && (a as Record<string, unknown>)[k] === (b as Record<string, unknown>)[k]);
}

/** Most reports a tick saves in one go (one group commit on SQLite). */
const REPORTS_PER_COMMIT = 500;

export class Simulator {
  readonly #store: Store;
  readonly #triangular: TriangularStore;
  readonly #count: number;
  readonly #tickMs: number;
  readonly #failRate: number;
  readonly #hmiRate: number;
  readonly #random: () => number;
  readonly #clock: () => Date;
  readonly #schema: number;
  readonly #unplugged: () => ReadonlySet<string>;
  /** Ticks left before a failed machine recovers. */
  readonly #recovering = new Map<string, number>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(options: SimulatorOptions) {
    this.#store = options.store;
    this.#triangular = options.triangular;
    this.#count = options.workers ?? 36;
    this.#tickMs = options.tickMs ?? 1000;
    this.#failRate = options.failRate ?? 0.005;
    this.#hmiRate = options.hmiRate ?? 0;
    this.#random = options.random ?? Math.random;
    this.#clock = options.clock ?? (() => new Date());
    this.#schema = options.schema ?? SCHEMA_VERSION;
    this.#unplugged = options.unplugged ?? (() => new Set());
  }

  /** An observed state as this Edge's schema version stores it (version 1: `temperature`). */
  #written(o: Omit<MachineObserved, 'reportedAt'> & { reportedAt: string }): Record<string, unknown> {
    if (this.#schema >= 2) return { ...o };
    const { temperatureC, ...rest } = o;
    return { ...rest, temperature: temperatureC };
  }

  /** Saves each machine's identity (a no-op when it is there) and a first desired and observed state when it has none. */
  async init(): Promise<void> {
    const now = this.#clock().toISOString();
    for (let i = 0; i < this.#count; i++) {
      const id = machineId(i);
      await this.#triangular.saveIdentity(WORKER_TYPE, id, { ...machineIdentity(i) });
      if ((await this.#triangular.loadDesired(WORKER_TYPE, id)) === undefined) {
        const desired: MachineDesired = { state: i % 5 === 4 ? 'stopped' : 'running', speed: 600 + ((i * 370) % 2000) };
        await this.#triangular.saveDesired(WORKER_TYPE, id, { ...desired });
      }
      if ((await this.#triangular.loadObserved(WORKER_TYPE, id)) === undefined) {
        const observed: MachineObserved = { state: 'stopped', speed: 0, temperatureC: 22, reportedAt: now };
        await this.#triangular.saveObserved(WORKER_TYPE, id, this.#written(observed));
      }
    }
  }

  /** Starts ticking (after `init`). */
  start(): void {
    this.#stopped = false;
    const loop = (): void => {
      if (this.#stopped) return;
      this.#running = this.tick().then(() => undefined, (e: unknown) => console.error(`simulator: ${e instanceof Error ? e.message : String(e)}`));
      void this.#running.then(() => {
        if (!this.#stopped) this.#timer = setTimeout(loop, this.#tickMs);
      });
    };
    this.#timer = setTimeout(loop, this.#tickMs);
  }

  /** Stops ticking; resolves after the tick under way. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  /** A local operator at the machine's HMI changes its speed (on the Edge, from the version it read). */
  async #hmiEdit(doc: Doc): Promise<void> {
    const d = userFields<MachineDesired>(doc) as MachineDesired;
    const speed = Math.max(100, Math.min(MAX_SPEED, d.speed + (this.#random() < 0.5 ? -100 : 100)));
    try {
      await this.#triangular.saveDesired(WORKER_TYPE, doc.id, { state: d.state, speed }, { expectedVersion: doc._version as number });
    } catch {
      // a dashboard's edit got there first: the HMI operator leaves it
    }
  }

  /** One report of every machine whose observed state changed, or whose last report is a heartbeat old. */
  async tick(): Promise<number> {
    const desiredDocs = await this.#store.find(`${WORKER_TYPE}_desired`);
    const desired = new Map(desiredDocs.map((d) => [d.id, userFields<MachineDesired>(d) as MachineDesired]));
    for (const doc of desiredDocs) if (this.#hmiRate > 0 && this.#random() < this.#hmiRate) await this.#hmiEdit(doc);
    // Read in either version (documents not migrated yet are version 1), used as version 2.
    const observed = new Map(
      (await this.#store.find(`${WORKER_TYPE}_observed`)).map((d) => {
        const { temperature: _, ...o } = userFields<MachineObserved & { temperature?: number }>(d) as MachineObserved & { temperature?: number };
        return [d.id, { ...o, temperatureC: temperatureOf(d) ?? 22 } as MachineObserved];
      }),
    );
    const reports: [string, Record<string, unknown>][] = [];
    const off = this.#unplugged();
    for (let i = 0; i < this.#count; i++) {
      if (this.#stopped) break;
      const id = machineId(i);
      if (off.has(id)) continue;
      const d = desired.get(id);
      const o = observed.get(id);
      if (d === undefined || o === undefined) continue;
      let next: Omit<MachineObserved, 'reportedAt'>;
      if (o.state === 'failed') {
        const left = this.#recovering.get(id) ?? 4 + Math.floor(this.#random() * 8);
        if (left <= 0) {
          this.#recovering.delete(id);
          next = { state: 'stopped', speed: 0, temperatureC: o.temperatureC };
        } else {
          this.#recovering.set(id, left - 1);
          next = step(o, d, false, this.#random);
        }
      } else {
        next = step(o, d, this.#random() < this.#failRate, this.#random);
      }
      const { reportedAt, id: _id, ...before } = o as MachineObserved & { id?: string };
      const now = this.#clock();
      // Nothing changed: a heartbeat all the same once HEARTBEAT_MS passed, so a steady machine
      // and a dead one do not look the same.
      if (sameFields(next, before) && now.getTime() - Date.parse(reportedAt) < HEARTBEAT_MS) continue;
      reports.push([id, this.#written({ ...next, reportedAt: now.toISOString() })]);
    }
    // The tick's reports are saved side by side, so the store's group commit makes them a few
    // transactions, not one each: on SQLite each commit takes the file's write lock, and while
    // another process writes to the file (an external reporter) every wait for it blocks this
    // process's thread (better-sqlite3 is synchronous), so the Edge answered nothing meanwhile:
    // one report at a time made edits wait seconds behind a tick (issue 24, D1).
    let saved = 0;
    for (let i = 0; i < reports.length && !this.#stopped; i += REPORTS_PER_COMMIT) {
      await Promise.all(reports.slice(i, i + REPORTS_PER_COMMIT).map(([id, doc]) => this.#triangular.saveObserved(WORKER_TYPE, id, doc)));
      saved += Math.min(REPORTS_PER_COMMIT, reports.length - i);
    }
    return saved;
  }
}
