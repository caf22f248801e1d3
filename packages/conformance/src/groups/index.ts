/** Every group of the suite, in the order they run. */
import type { Group } from '../group.js';
import { adapterContractGroupDef } from './adapter-contract.js';
import { atomicityGroupDef } from './atomicity.js';
import { badInputGroupDef } from './bad-input.js';
import { capabilitiesGroupDef } from './capabilities.js';
import { changeFeedGroupDef } from './change-feed.js';
import { crashGroupDef } from './crash.js';
import { durabilityGroupDef } from './durability.js';
import { faithfulDocumentsGroupDef } from './faithful-documents.js';
import { indexKeysGroupDef } from './index-keys.js';
import { indexesGroupDef } from './indexes.js';
import { isolationGroupDef } from './isolation.js';
import { largeBatchGroupDef } from './large-batch.js';
import { migrationsGroupDef } from './migrations.js';
import { modelGroupDef } from './model.js';
import { multiProcessGroupDef } from './multi-process.js';
import { noLostChangeGroupDef } from './no-lost-change.js';
import { optimisticLockingGroupDef } from './optimistic-locking.js';
import { replicaGroupDef } from './replica.js';
import { sequencedChangesGroupDef } from './sequenced-changes.js';
import { syncIdGroupDef } from './sync-ids.js';
import { syncStateGroupDef } from './sync-state.js';
import { triangularStoreGroupDef } from './triangular-store.js';
import { txCacheGroupDef } from './tx-cache.js';
import { tombstonesGroupDef } from './tombstones.js';
import { typedErrorsGroupDef } from './typed-errors.js';
import { watchGroupDef } from './watch.js';

export {
  adapterContractGroupDef,
  atomicityGroupDef,
  badInputGroupDef,
  capabilitiesGroupDef,
  changeFeedGroupDef,
  crashGroupDef,
  durabilityGroupDef,
  faithfulDocumentsGroupDef,
  indexKeysGroupDef,
  indexesGroupDef,
  isolationGroupDef,
  largeBatchGroupDef,
  migrationsGroupDef,
  modelGroupDef,
  multiProcessGroupDef,
  noLostChangeGroupDef,
  optimisticLockingGroupDef,
  replicaGroupDef,
  sequencedChangesGroupDef,
  syncIdGroupDef,
  syncStateGroupDef,
  tombstonesGroupDef,
  triangularStoreGroupDef,
  txCacheGroupDef,
  typedErrorsGroupDef,
  watchGroupDef,
};

/** The store-level groups: the capabilities, the model, guarantees 1-10 and live changes. */
export const STORE_GROUPS: readonly Group[] = [
  capabilitiesGroupDef,
  adapterContractGroupDef,
  modelGroupDef,
  syncIdGroupDef,
  noLostChangeGroupDef,
  optimisticLockingGroupDef,
  atomicityGroupDef,
  largeBatchGroupDef,
  durabilityGroupDef,
  tombstonesGroupDef,
  faithfulDocumentsGroupDef,
  badInputGroupDef,
  isolationGroupDef,
  typedErrorsGroupDef,
  watchGroupDef,
  changeFeedGroupDef,
  sequencedChangesGroupDef,
  indexesGroupDef,
  indexKeysGroupDef,
];

/** The CSE components on top of the adapter. */
export const CSE_GROUPS: readonly Group[] = [triangularStoreGroupDef, syncStateGroupDef, txCacheGroupDef, replicaGroupDef];

/** The groups that run child processes (Node only, and only with the `module` option). */
export const CHILD_GROUPS: readonly Group[] = [crashGroupDef, multiProcessGroupDef, migrationsGroupDef];

/** Every group. */
export const ALL_GROUPS: readonly Group[] = [...STORE_GROUPS, ...CSE_GROUPS, ...CHILD_GROUPS];
