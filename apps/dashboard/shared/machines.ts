/**
 * The worker type the demo runs, shared by the Edge (simulator) and the dashboard: one FSM
 * worker type, `machine`, with its three documents (`machine_identity`, `machine_desired`,
 * `machine_observed`). Both sides build the same registry from here.
 */
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
  readonly temperature: number;
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

export function machineRegistry(): Registry {
  const registry = new Registry();
  registry.registerWorkerType(WORKER_TYPE);
  return registry;
}
