/**
 * The suite as vitest suites: `runConformance(options)` registers every group; each
 * `<name>Group(options)` registers one, for adapters that extend or split the suite.
 */
import type { Group } from './group.js';
import { registerGroups } from './register.js';
import {
  ALL_GROUPS,
  adapterContractGroupDef,
  atomicityGroupDef,
  badInputGroupDef,
  capabilitiesGroupDef,
  crashGroupDef,
  migrationsGroupDef,
  durabilityGroupDef,
  faithfulDocumentsGroupDef,
  indexesGroupDef,
  isolationGroupDef,
  modelGroupDef,
  multiProcessGroupDef,
  noLostChangeGroupDef,
  optimisticLockingGroupDef,
  syncIdGroupDef,
  syncStateGroupDef,
  tombstonesGroupDef,
  triangularStoreGroupDef,
  txCacheGroupDef,
  typedErrorsGroupDef,
  watchGroupDef,
} from './groups/index.js';
import type { ConformanceOptions } from './options.js';

/**
 * Registers the whole conformance suite for one adapter as vitest suites. Call it at the top
 * level of a test file (it calls `describe`/`it`). Groups the adapter's capabilities do not
 * cover are reported as skipped, with the reason in the test title.
 */
export function runConformance(options: ConformanceOptions): void {
  registerGroups(ALL_GROUPS, options);
}

const single =
  (group: Group) =>
  (options: ConformanceOptions): void =>
    registerGroups([group], options);

/** Capabilities: frozen, honest, declared ones work. */
export const capabilitiesGroup = single(capabilitiesGroupDef);
/** Every adapter member called directly, against MemoryAdapter. */
export const adapterContractGroup = single(adapterContractGroupDef);
/** Random command sequences against MemoryAdapter. */
export const modelGroup = single(modelGroupDef);
/** Guarantee 1. */
export const syncIdGroup = single(syncIdGroupDef);
/** Guarantee 2. */
export const noLostChangeGroup = single(noLostChangeGroupDef);
/** Guarantee 3. */
export const optimisticLockingGroup = single(optimisticLockingGroupDef);
/** Guarantee 4. */
export const atomicityGroup = single(atomicityGroupDef);
/** Guarantee 5. */
export const durabilityGroup = single(durabilityGroupDef);
/** Guarantee 6. */
export const tombstonesGroup = single(tombstonesGroupDef);
/** Guarantee 7. */
export const faithfulDocumentsGroup = single(faithfulDocumentsGroupDef);
/** Guarantee 8. */
export const badInputGroup = single(badInputGroupDef);
/** Guarantee 9. */
export const isolationGroup = single(isolationGroupDef);
/** Guarantee 10. */
export const typedErrorsGroup = single(typedErrorsGroupDef);
/** The CSE layer: TriangularStore. */
export const triangularStoreGroup = single(triangularStoreGroupDef);
/** The CSE layer: SyncState. */
export const syncStateGroup = single(syncStateGroupDef);
/** The CSE layer: TxCache. */
export const txCacheGroup = single(txCacheGroupDef);
/** Crash safety: a child process killed with SIGKILL (needs persistent, crashSafe, `module`, Node). */
export const crashGroup = single(crashGroupDef);
/** Schema migrations killed with SIGKILL at a random batch (needs persistent, crashSafe, `module`, Node). */
export const migrationsGroup = single(migrationsGroupDef);
/** Several writer processes on one store (needs multiProcess, `module`, Node). */
export const multiProcessGroup = single(multiProcessGroupDef);
/** Live changes: `Store.watch` misses nothing, ends on abort and close; a declared change feed signals. */
export const watchGroup = single(watchGroupDef);
/** Indexed find: answers through an index equal a scan, across writes, reopen and a SIGKILL (needs indexes). */
export const indexesGroup = single(indexesGroupDef);
