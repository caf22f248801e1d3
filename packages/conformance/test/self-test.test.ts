/**
 * The suite tests itself: every deliberately broken adapter must be rejected by the group of the
 * guarantee it violates (with a real violation, not a crash of the harness), and the same
 * adapter without faults must pass every group. The groups that run child processes (crash,
 * multi-process) are in self-test-processes.test.ts, a file of their own so that the two run side
 * by side: those checks mostly wait for their children.
 */
import { describe, expect, it } from 'vitest';
import type { AdapterCapabilities } from '@cse/core';
import type { Group } from '../src/index.js';
import {
  ALL_GROUPS,
  STORE_GROUPS,
  capabilitiesGroupDef,
  changeFeedGroupDef,
  adapterContractGroupDef,
  PropertyFailure,
  Violation,
  atomicityGroupDef,
  durabilityGroupDef,
  faithfulDocumentsGroupDef,
  indexKeysGroupDef,
  indexesGroupDef,
  isolationGroupDef,
  modelGroupDef,
  noLostChangeGroupDef,
  optimisticLockingGroupDef,
  runGroups,
  sequencedChangesGroupDef,
  syncIdGroupDef,
  tombstonesGroupDef,
  txCacheGroupDef,
  watchGroupDef,
} from '../src/index.js';
import type { Faults } from './broken/faulty-adapter.js';
import { faultyFactory } from './broken/faulty-adapter.js';
import { describeFailures } from './reports.js';

/** Each broken adapter, and the groups that must each reject it. */
const BROKEN: [keyof Faults, string, Group[]][] = [
  ['restartIds', 'sync ids restart after a reopen', [syncIdGroupDef, modelGroupDef]],
  ['allocOutside', 'ids are allocated outside the commit, so a reader can miss one', [noLostChangeGroupDef]],
  ['skipVersionCheck', 'the version check is skipped', [optimisticLockingGroupDef, modelGroupDef]],
  ['halfBatch', 'a batch is applied halfway', [atomicityGroupDef]],
  ['loseOnReopen', 'the last write is lost on reopen', [durabilityGroupDef, modelGroupDef]],
  ['liveObjects', 'live objects are returned (shared references)', [faithfulDocumentsGroupDef]],
  ['dropDeleted', 'tombstones lose their deleted flag and show in get', [tombstonesGroupDef, modelGroupDef]],
  ['sharedCounter', 'two store names share one counter', [isolationGroupDef]],
  ['dropSystemOnReopen', 'TxCache journals (system collections) are lost on restart', [txCacheGroupDef]],
  ['splicedKeys', 'names are spliced into keys unescaped', [isolationGroupDef, modelGroupDef]],
  ['deriveCounter', 'counter is re-derived at open from the highest stored id (ids repeat after compaction)', [adapterContractGroupDef, modelGroupDef]],
  ['changesIgnoreLimit', '`changes` ignores limit', [adapterContractGroupDef]],
  ['scanDropsTombstones', '`scanCollection` leaves tombstones out', [adapterContractGroupDef]],
  ['emptyArraysAsObjects', 'empty arrays read back as {}', [adapterContractGroupDef, faithfulDocumentsGroupDef, modelGroupDef]],
  ['changesUndefined', '`changes` returns undefined', [adapterContractGroupDef, noLostChangeGroupDef]],
  ['keyBytes', 'backend limits keys to 1024 bytes', [faithfulDocumentsGroupDef]],
  ['indexMissesUpdate', 'index misses an update (entries of an updated document stay at the old value)', [indexesGroupDef]],
];

/**
 * Blind spots of earlier versions of the suite (issue 27): each broken adapter, the capabilities
 * it declares, the group that must reject it and what the failure must say. Each check is aimed
 * at its guarantee, so it fails these at default settings, every time.
 */
const feedCaps = { persistent: true, multiProcess: true, changeFeed: true };
const AIMED: [keyof Faults, Partial<AdapterCapabilities>, string, Group, RegExp][] = [
  ['unsubscribeNoop', feedCaps, 'unsubscribe does nothing', changeFeedGroupDef, /a listener was called \d+ time\(s\) after/],
  ['unsubscribeKeepsTimer', feedCaps, 'unsubscribe leaves the poll timer running', changeFeedGroupDef, /timer\(s\) created since subscribing are still active/],
  ['feedTextCompare', feedCaps, 'feed compares counters as text (silent past 9)', changeFeedGroupDef, /the feed went silent/],
  ['signalEarly', feedCaps, 'feed signals before the commit is visible', changeFeedGroupDef, /signalled before the commit was visible/],
  ['pageThenCounter', { persistent: true, multiProcess: true, sequencedChanges: true }, 'changesWithSequence reads the counter after the page', sequencedChangesGroupDef, /the counter was read after the page/],
  ['staleSequence', { persistent: true, multiProcess: true, sequencedChanges: true }, 'changesWithSequence reads the counter before the page', sequencedChangesGroupDef, /the counter was read before the page|no syncId above sequence.lastSyncId/],
  ['compactDropsLiveIndex', { persistent: true, compaction: true, indexes: true }, 'compaction drops index entries of live documents', indexKeysGroupDef, /after compact/],
  ['naiveIndexKeys', { persistent: true, indexes: true }, 'index keys are <value>:<id>, a value ending at ;', indexKeysGroupDef, /through the index differs from the scan/],
  ['foldIndexCase', { persistent: true, indexes: true }, 'index names ignore letter case', indexKeysGroupDef, /listIndexes differs from the MemoryAdapter oracle/],
  ['tidySystemTombstones', { persistent: true }, 'tombstones of _-collections are tidied away at open', tombstonesGroupDef, /after close and reopen: the tombstone of _cse_probe\/gone/],
];

describe('aimed checks reject the broken adapters of their blind spot', () => {
  for (const [fault, caps, what, group, message] of AIMED) {
    it(`${group.id} rejects an adapter whose ${what} (${fault})`, async () => {
      const reports = await runGroups([group], { name: `broken: ${fault}`, open: faultyFactory({ [fault]: true }, caps) });
      const failed = reports.filter((r) => r.status === 'failed');
      expect(failed.length, `no check of ${group.id} failed; reports: ${JSON.stringify(reports.map((r) => [r.check, r.status, r.reason]))}`).toBeGreaterThan(0);
      for (const r of failed) {
        expect(r.error instanceof Violation || r.error instanceof PropertyFailure, `not a verdict:\n${describeFailures([r])}`).toBe(true);
      }
      expect(describeFailures(failed)).toMatch(message);
    });
  }

  it('the same adapter without faults passes each of these groups with every capability declared', async () => {
    const caps = { persistent: true, multiProcess: true, changeFeed: true, sequencedChanges: true, compaction: true, indexes: true };
    const reports = await runGroups([changeFeedGroupDef, sequencedChangesGroupDef, indexKeysGroupDef, tombstonesGroupDef], { name: 'aimed ok', open: faultyFactory({}, caps) });
    expect(describeFailures(reports)).toBe('');
    expect(reports.filter((r) => r.status === 'passed').length).toBeGreaterThan(6);
  });
});

/** Faults whose failure message must name the adapter member that misbehaved. */
const NAMED: Partial<Record<keyof Faults, RegExp>> = {
  changesUndefined: /adapter\.changes\(.*\) returned a malformed value: expected an array of records.*got undefined/,
};

describe('the suite rejects every broken adapter', () => {
  for (const [fault, what, groups] of BROKEN) {
    for (const group of groups) {
      it(`${group.id} rejects an adapter whose ${what} (${fault})`, async () => {
        // Default settings: what a user runs must catch it.
        const reports = await runGroups([group], { name: `broken: ${fault}`, open: faultyFactory({ [fault]: true }) });
        const failed = reports.filter((r) => r.status === 'failed');
        expect(failed.length, `no check of ${group.id} failed; reports: ${JSON.stringify(reports.map((r) => [r.check, r.status, r.reason]))}`).toBeGreaterThan(0);
        for (const r of failed) {
          // A real verdict: a violated guarantee, or a typed error the Store should never have thrown.
          const ok = r.error instanceof Violation || r.error instanceof PropertyFailure || (r.error as { code?: unknown }).code !== undefined;
          expect(ok, `the failure is a crash of the harness, not a verdict:\n${describeFailures([r])}`).toBe(true);
          // The replay names the real check, not a placeholder.
          if (r.error instanceof PropertyFailure) expect(r.error.message).toMatch(new RegExp(`replay: CSE_CONFORMANCE_ONLY=${group.id}/\\d+ CSE_CONFORMANCE_SEED=-?\\d+ `));
          const named = NAMED[fault];
          if (named) expect((r.error as Error).message).toMatch(named);
        }
      });
    }
  }
});

describe('the suite accepts correct adapters', () => {
  it('the faulty adapter without faults (persistent) passes every group', async () => {
    const reports = await runGroups(ALL_GROUPS, { name: 'faulty adapter, no faults', open: faultyFactory({}) });
    expect(describeFailures(reports)).toBe('');
    const skipped = reports.filter((r) => r.status === 'skipped');
    for (const r of skipped) expect(r.reason, `${r.group}/${r.check} is skipped without a reason`).toMatch(/\S/);
    expect(reports.filter((r) => r.status === 'passed').length).toBeGreaterThan(40);
  });

  it('the same adapter declared not persistent skips the reopen groups, with reasons', async () => {
    const reports = await runGroups([durabilityGroupDef], { name: 'not persistent', open: faultyFactory({}, { persistent: false }) });
    expect(reports.every((r) => r.status === 'skipped' && r.reason === 'adapter does not declare persistent')).toBe(true);
  });

  it('options.capabilities may lower a capability (skip with that reason) but not raise one', async () => {
    const lowered = await runGroups([durabilityGroupDef], { name: 'lowered', open: faultyFactory({}), capabilities: { persistent: false } });
    expect(lowered.every((r) => r.status === 'skipped' && r.reason === 'persistent is turned off by options.capabilities')).toBe(true);
    const { capabilitiesGroupDef } = await import('../src/index.js');
    const raised = await runGroups([capabilitiesGroupDef], { name: 'raised', open: faultyFactory({}), capabilities: { crashSafe: true } });
    expect(raised.find((r) => r.check.startsWith('options.capabilities'))?.status).toBe('failed');
  });
});

describe('sequencedChanges (a delta page and the counter in one read)', () => {
  const caps = { persistent: true, compaction: true, sequencedChanges: true };

  it('accepts the faulty adapter without faults when it declares sequencedChanges, and the Store pages through it', async () => {
    const reports = await runGroups(STORE_GROUPS, { name: 'sequenced ok', open: faultyFactory({}, caps), fc: { numRuns: 10 } });
    expect(describeFailures(reports)).toBe('');
    expect(reports.find((r) => r.check.startsWith('sequencedChanges'))?.status).toBe('passed');
  });

  it('rejects an adapter whose changesWithSequence reads the counter apart from the page (staleSequence)', async () => {
    const reports = await runGroups([capabilitiesGroupDef], { name: 'broken: staleSequence', open: faultyFactory({ staleSequence: true }, caps) });
    const failed = reports.filter((r) => r.status === 'failed');
    expect(failed.map((r) => r.check)).toContain('sequencedChanges: a page and its counter come from one state, and agree with changes() and sequence()');
    for (const r of failed) expect(r.error instanceof Violation, describeFailures([r])).toBe(true);
  });
});

describe('the watch group and the change feed', () => {
  // Instances on one store name share state, so the faulty adapter may declare multiProcess.
  const feedCaps = { persistent: true, multiProcess: true, changeFeed: true };

  it('rejects an adapter that declares changeFeed but never signals commits of another instance (deafFeed)', async () => {
    const reports = await runGroups([watchGroupDef], { name: 'broken: deafFeed', open: faultyFactory({ deafFeed: true }, feedCaps), fc: { numRuns: 10 } });
    const failed = reports.filter((r) => r.status === 'failed');
    expect(failed.map((r) => r.check)).toContain('changeFeed: a commit of another client reaches a watcher that never polls');
    for (const r of failed) expect(r.error instanceof Violation || r.error instanceof PropertyFailure, describeFailures([r])).toBe(true);
    expect(describeFailures(failed)).toMatch(/the watcher stalled at cursor/);
  });

  it('accepts the same adapter with a working feed, and without the capability (the polling path)', async () => {
    for (const caps of [feedCaps, { persistent: true, multiProcess: true }, { persistent: false }]) {
      const reports = await runGroups([watchGroupDef], { name: 'feed ok', open: faultyFactory({}, caps), fc: { numRuns: 10 } });
      expect(describeFailures(reports)).toBe('');
      expect(reports.filter((r) => r.status === 'passed').length).toBeGreaterThan(1);
    }
  });
});

describe('issue 27: malformed commits and the documented maximum batch', () => {
  it('bad-input rejects an adapter that writes a commit whose expectation is malformed (reading it as none)', async () => {
    const { badInputGroupDef } = await import('../src/index.js');
    const { unvalidatedExpectations } = await import('./broken/commit-wrapper.js');
    const check = 'a commit with a malformed expectation, fed to the adapter directly, is VALIDATION and writes nothing';
    const reports = await runGroups([badInputGroupDef], { name: 'broken: unvalidated expectations', open: unvalidatedExpectations, only: [`bad-input/${check}`] });
    expect(reports.map((r) => [r.check, r.status])).toEqual([[check, 'failed']]);
    expect(reports[0]?.error instanceof Violation, describeFailures(reports)).toBe(true);
  });

  it('large-batch rejects an adapter that cannot commit more than 20 000 writes', async () => {
    const { largeBatchGroupDef } = await import('../src/index.js');
    const { batchLimit } = await import('./broken/commit-wrapper.js');
    const reports = await runGroups([largeBatchGroupDef], { name: 'broken: batch limit', open: batchLimit });
    expect(reports.map((r) => r.status)).toEqual(['failed']);
    expect((reports[0]?.error as Error).message).toMatch(/BACKEND|Maximum call stack/);
  });

  it('both pass on the same adapter without the defect', async () => {
    const { badInputGroupDef, largeBatchGroupDef } = await import('../src/index.js');
    const reports = await runGroups([badInputGroupDef, largeBatchGroupDef], { name: 'faulty adapter, no faults', open: faultyFactory({}), fc: { numRuns: 5 } });
    expect(describeFailures(reports)).toBe('');
  });
});
