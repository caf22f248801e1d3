/**
 * The worker type of the `migrations` group, shared by the parent and the child process: `mig`
 * at version 1 (no schema) or 3. 1 → 2: desired `speed_rpm` renamed `rpm` (lossless, with down),
 * observed `temp_f` to `temp_c` (rounded, no down). 2 → 3: desired gains `mode` ("auto").
 * Identity never changes shape (its documents are only stamped).
 */
import type { JsonObject, WorkerTypeSchema } from '@cse/core';
import { Registry } from '@cse/core';

export const MIG_TYPE = 'mig';
export const MIG_ROLES = ['identity', 'desired', 'observed'] as const;

export const MIG_V3: WorkerTypeSchema = {
  version: 3,
  migrations: [
    {
      up: {
        desired: ({ speed_rpm, ...rest }) => ({ ...rest, rpm: speed_rpm ?? 0 }),
        observed: ({ temp_f, ...rest }) => ({ ...rest, temp_c: Math.round(((Number(temp_f ?? 32) - 32) * 5) / 9) }),
      },
      down: { desired: ({ rpm, ...rest }) => ({ ...rest, speed_rpm: rpm ?? 0 }) },
    },
    { up: { desired: (d) => ({ ...d, mode: d.mode ?? 'auto' }) } },
  ],
};

/** A registry with `mig` at version 1 or 3. */
export function migRegistry(version: 1 | 3): Registry {
  const r = new Registry();
  r.registerWorkerType(MIG_TYPE, version === 3 ? MIG_V3 : undefined);
  return r;
}

/** Document `i` of `role` as written at version 1. */
export function migV1(role: (typeof MIG_ROLES)[number], i: number): JsonObject & { id: string } {
  const id = `m${String(i).padStart(4, '0')}`;
  if (role === 'identity') return { id, serial: i };
  if (role === 'desired') return { id, speed_rpm: i * 10 };
  return { id, temp_f: 32 + i * 9 };
}

/** The user fields document `i` must have at `version` (1 or 3). */
export function migExpected(role: (typeof MIG_ROLES)[number], i: number, version: number): JsonObject {
  const v1 = migV1(role, i);
  if (version === 1) return v1;
  if (role === 'identity') return { ...v1, _schema: 3 };
  if (role === 'desired') return { id: v1.id as string, rpm: i * 10, mode: 'auto', _schema: 3 };
  return { id: v1.id as string, temp_c: i * 5, _schema: 3 };
}
