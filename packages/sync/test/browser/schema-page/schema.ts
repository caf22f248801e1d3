// The two releases of schema-upgrade.spec.ts, shared by its Edge (Node) and its page (Chromium).
// Release 1: pump and valve at version 1 (registered without a schema, as before versions).
// Release 2: pump at version 2 through one step with a pure `up` per changed role and no `down`
// (an Edge of release 1 cannot serve it); valve still at version 1.
import { Registry } from '@cse/core';
import type { MigrationStep } from '@cse/core';

/** pump 1 → 2: Desired `speed_rpm` is renamed `rpm`; Observed `temp_f` becomes `temp_c` (rounded: lossy). */
export const PUMP_1_TO_2: MigrationStep = {
  up: {
    desired: ({ speed_rpm, ...rest }) => ({ ...rest, rpm: speed_rpm ?? 0 }),
    observed: ({ temp_f, ...rest }) => ({ ...rest, temp_c: Math.round(((Number(temp_f ?? 32) - 32) * 5) / 9) }),
  },
};

/** The registry of release `version` (1 or 2). */
export function registryAt(version: number): Registry {
  const r = new Registry();
  if (version === 1) r.registerWorkerType('pump');
  else if (version === 2) r.registerWorkerType('pump', { version: 2, migrations: [PUMP_1_TO_2] });
  else throw new Error(`no release ${version}`);
  r.registerWorkerType('valve');
  return r;
}
