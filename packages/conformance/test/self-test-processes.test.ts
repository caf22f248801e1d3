/**
 * The self-test of the groups that run child processes (see self-test.test.ts): the crash and
 * multi-process groups must reject each broken adapter, with default settings, and accept the
 * same adapter without faults.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { crashGroupDef, migrationsGroupDef, multiProcessGroupDef, runGroups } from '../src/index.js';
import type { FileFault } from './broken/file-adapter.js';
import { fileFactory } from './broken/file-adapter.js';
import { open as racySqlite } from './broken/sqlite-racy.js';
import { brokenSqlite } from './broken/sqlite-broken.js';
import { describeFailures } from './reports.js';

const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));

describe('the crash and multi-process groups reject broken adapters (child processes)', { timeout: 300_000 }, () => {
  const FILE: [FileFault, string, string][] = [
    ['ackEarly', './broken/file-ack-early.ts', 'acknowledges commits before writing them'],
    ['torn', './broken/file-torn.ts', 'writes a commit in pieces'],
  ];
  for (const [fault, module, what] of FILE) {
    it(`crash rejects a file adapter that ${what} (${fault})`, async () => {
      const reports = await runGroups([crashGroupDef], { name: `file: ${fault}`, open: fileFactory(fault), module: here(module) });
      expect(reports.map((r) => r.status)).toContain('failed');
    });
  }

  it('crash rejects a SQLite adapter that writes a batch as one autocommit per record, declared crashSafe (default settings)', async () => {
    const reports = await runGroups([crashGroupDef], { name: 'sqlite: torn', open: brokenSqlite('torn'), module: here('./broken/sqlite-torn.ts') });
    expect(reports.map((r) => r.status)).toEqual(['failed']);
    expect((reports[0]?.error as Error).message).toMatch(/torn|below a stored _sync_id|is gone/);
  });

  it('multi-process rejects a SQLite adapter that allocates ids and writes records in two transactions (default settings)', async () => {
    const reports = await runGroups([multiProcessGroupDef], { name: 'sqlite: split', open: brokenSqlite('split'), module: here('./broken/sqlite-split.ts') });
    expect(reports.map((r) => r.status)).toEqual(['failed']);
    expect((reports[0]?.error as Error).message).toMatch(/became visible after a larger one|a lost change/);
  });

  it('migrations rejects a file adapter that writes a commit in pieces (a torn batch) and accepts it without faults', async () => {
    // Whether a kill tears a batch depends on its timing: more runs than the default (the run ends at
    // the first failure) so that the torn adapter is caught for certain, not in most runs.
    const torn = await runGroups([migrationsGroupDef], { name: 'file: torn', open: fileFactory('torn'), module: here('./broken/file-torn.ts'), fc: { numRuns: 150 } });
    expect(torn.map((r) => r.status)).toEqual(['failed']);
    expect((torn[0]?.error as Error).message).toMatch(/torn batch|not in the shape|holds \d+ documents/);
    const fine = await runGroups([migrationsGroupDef], { name: 'file: none', open: fileFactory('none'), module: here('./broken/file-ok.ts') });
    expect(describeFailures(fine)).toBe('');
    expect(fine.map((r) => r.status)).toEqual(['passed']);
  });

  it('crash accepts the file adapter without faults', async () => {
    const reports = await runGroups([crashGroupDef], { name: 'file: none', open: fileFactory('none'), module: here('./broken/file-ok.ts') });
    expect(describeFailures(reports)).toBe('');
    expect(reports.map((r) => r.status)).toEqual(['passed']);
  });

  it('multi-process rejects a SQLite adapter whose version check is not atomic across processes', async () => {
    const reports = await runGroups([multiProcessGroupDef], { name: 'racy sqlite', open: racySqlite, module: here('./broken/sqlite-racy.ts') });
    expect(reports.map((r) => r.status)).toEqual(['failed']);
  });

  it('without `module` the child-process groups are skipped with that reason', async () => {
    const reports = await runGroups([crashGroupDef, multiProcessGroupDef], { name: 'no module', open: racySqlite });
    for (const r of reports) expect(r).toMatchObject({ status: 'skipped', reason: 'no `module` option (the factory module a child process imports)' });
  });
});
