export * from './errors.js';
export * from './adapter.js';
export { Field, assertCommitRequest, assertExpectation, buildRecord, docKeyString, meetsExpectation, planCommit, recordFromDoc } from './records.js';
export {
  ADAPTER_COLLECTION_NAME,
  COLLECTION_NAME,
  DEFAULT_MAX_DOCUMENT_BYTES,
  MAX_DEPTH,
  MAX_ID_LENGTH,
  assertCollectionName,
  assertId,
  checkJson,
  cloneJson,
  compareJson,
  getPath,
  jsonEqual,
} from './json.js';
export type { CompiledQuery, Condition, Operator, Query, SortField } from './query.js';
export { compileQuery, matches, runQuery } from './query.js';
export type { StoreOptions } from './store.js';
export { MAX_INSERT_MANY, Store } from './store.js';
export type { Doc, DocInput, DocMeta, WriteOptions } from './documents.js';
export { userFields } from './documents.js';
export type { Change, ChangePage, ChangeSubscription, ChangesOptions, WatchOptions } from './changes.js';
export type { Transaction } from './transaction.js';
export type { RetryOptions } from './retry.js';
export { withRetry } from './retry.js';
export type { AdapterModule } from './open-store.js';
export { ADAPTER_PACKAGES, openStore, registerAdapterModule } from './open-store.js';
export { MemoryAdapter } from './memory-adapter.js';
export type { IndexBound, IndexProbe, IndexScalar, IndexSelector, IndexSpec } from './index-types.js';
export {
  INDEX_FIELD,
  INDEX_KEY_SEPARATOR,
  MAX_INDEX_FIELD_LENGTH,
  assertIndexSpec,
  encodeIndexValue,
  indexEntry,
  indexKey,
  indexKeyRange,
  indexKeySuffix,
  planIndexProbes,
} from './indexes.js';
export { MemoryIndexes } from './memory-indexes.js';
export { CommitListeners } from './change-feed.js';
export type { ReplicaWrite } from './replica.js';
export { Replica } from './replica.js';
export type { CollectionMetadata, TriangularCollections } from './registry.js';
export { Registry, Role, Tier, assertTier } from './registry.js';
export type { MigrateOptions, MigrateResult, SaveOptions, SaveResult, Snapshot } from './triangular-store.js';
export type { MigrateFn, MigrationStep, RoleMigrations, WorkerSchema, WorkerTypeSchema } from './migrations.js';
export { SCHEMA_FIELD, canConvert, canServe, convertDoc, schemaVersionOf, updateRequired } from './migrations.js';
export { RECEIPT_COLLECTION, TriangularStore } from './triangular-store.js';
export type { BeginOptions, CachedOp, CachedTx, ReplayReport } from './tx-cache.js';
export { DEFAULT_TX_TTL_MS, OpType, TX_COLLECTION, TxCache, TxStatus } from './tx-cache.js';
export type { Delta, DeltaOptions, PeerOptions, PeerState, TierState } from './sync-state.js';
export { SYNC_COLLECTION, SyncState } from './sync-state.js';
export { ObjectPool } from './object-pool.js';
