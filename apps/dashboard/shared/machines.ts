/**
 * The worker type the demo runs, shared by the Edge (simulator) and the dashboard: one FSM
 * worker type, `machine`, with its three documents (`machine_identity`, `machine_desired`,
 * `machine_observed`). Both sides build the same registry from here.
 */
import type { MigrationStep } from '@cse/core';
import { Registry } from '@cse/core';

export const WORKER_TYPE = 'machine';

/** Written once by the worker when it first starts; never changes. */
export interface MachineIdentity {
  readonly name: string;
  readonly kind: string;
  readonly line: string;
  readonly serial: string;
}

/** What the operator wants: written from the dashboard (or by the Edge's own tooling). */
export interface MachineDesired {
  readonly state: 'running' | 'stopped';
  /** Target speed, in rpm. */
  readonly speed: number;
}

export type ObservedState = 'stopped' | 'starting' | 'running' | 'stopping' | 'failed';

/** What the machine reports: it moves toward the desired state step by step. */
export interface MachineObserved {
  readonly state: ObservedState;
  readonly speed: number;
  /** Schema version 2: the temperature, in °C (the field name says the unit). */
  readonly temperatureC: number;
  /** Set while `state` is `failed`. */
  readonly error?: string;
  /** When the machine last reported (a change, or a heartbeat every HEARTBEAT_MS; ISO time). */
  readonly reportedAt: string;
}

export const DESIRED_STATES: readonly MachineDesired['state'][] = ['running', 'stopped'];
export const MAX_SPEED = 3000;
/** A machine reports at least this often (a heartbeat when nothing changed). */
export const HEARTBEAT_MS = 10_000;
/** A machine is stale after three missed heartbeats. */
export const STALE_AFTER_MS = 3 * HEARTBEAT_MS;

/**
 * The schema version of `machine` this release runs (S12, docs/schema-versions.md). Version 1
 * (releases before it) called the observed temperature `temperature`; version 2 names its unit,
 * `temperatureC`. The step is lossless, so it has a `down`: an Edge at 2 still serves a
 * dashboard at 1, and a dashboard at 2 meeting an Edge at 1 is told to wait (UPDATE_REQUIRED).
 */
export const SCHEMA_VERSION = 2;

const MACHINE_MIGRATIONS: readonly MigrationStep[] = [
  {
    up: { observed: ({ temperature, ...rest }) => ({ ...rest, temperatureC: typeof temperature === 'number' ? temperature : 22 }) },
    down: { observed: ({ temperatureC, ...rest }) => ({ ...rest, temperature: temperatureC ?? 22 }) },
  },
];

/** The observed temperature (°C) of a document of either version. */
export function temperatureOf(o: object | undefined): number | undefined {
  const r = o as { temperatureC?: unknown; temperature?: unknown } | undefined;
  const t = r?.temperatureC ?? r?.temperature;
  return typeof t === 'number' ? t : undefined;
}

/** The registry of this release, or of an older one (`version` 1 or 2) for demos and tests. */
export function machineRegistry(version: number = SCHEMA_VERSION): Registry {
  if (!Number.isSafeInteger(version) || version < 1 || version > SCHEMA_VERSION) throw new RangeError(`machine schema version is 1 to ${SCHEMA_VERSION}, got ${version}`);
  const registry = new Registry();
  registry.registerWorkerType(WORKER_TYPE, { version, migrations: MACHINE_MIGRATIONS.slice(0, version - 1) });
  return registry;
}
