/**
 * How often the suite, at default settings, catches each deliberately broken adapter of the
 * self-test: N independent runs (fresh random seeds) of the groups that should catch it.
 * Run by hand, from packages/conformance:
 *
 *   node --conditions=@cse/source --import tsx scripts/catch-rate.ts --n 100
 *   node --conditions=@cse/source --import tsx scripts/catch-rate.ts --n 20 --only split,torn-sqlite
 *   node --conditions=@cse/source --import tsx scripts/catch-rate.ts --n 10 --only empty-arrays --group faithful-documents
 *
 * Prints one line per adapter: caught / N and the mean time per run.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Group, OpenAdapter } from '../src/index.js';
import {
  adapterContractGroupDef,
  crashGroupDef,
  faithfulDocumentsGroupDef,
  modelGroupDef,
  multiProcessGroupDef,
  noLostChangeGroupDef,
  runGroups,
} from '../src/index.js';
import { faultyFactory } from '../test/broken/faulty-adapter.js';
import { brokenSqlite } from '../test/broken/sqlite-broken.js';

const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));

interface Target {
  readonly name: string;
  readonly open: OpenAdapter;
  readonly module?: string;
  readonly groups: readonly Group[];
}

const TARGETS: readonly Target[] = [
  { name: 'derive-counter', open: faultyFactory({ deriveCounter: true }), groups: [adapterContractGroupDef, modelGroupDef] },
  { name: 'split', open: brokenSqlite('split'), module: here('../test/broken/sqlite-split.ts'), groups: [multiProcessGroupDef] },
  { name: 'torn-sqlite', open: brokenSqlite('torn'), module: here('../test/broken/sqlite-torn.ts'), groups: [crashGroupDef] },
  { name: 'changes-ignore-limit', open: faultyFactory({ changesIgnoreLimit: true }), groups: [adapterContractGroupDef] },
  { name: 'scan-drops-tombstones', open: faultyFactory({ scanDropsTombstones: true }), groups: [adapterContractGroupDef] },
  { name: 'empty-arrays', open: faultyFactory({ emptyArraysAsObjects: true }), groups: [adapterContractGroupDef, modelGroupDef, faithfulDocumentsGroupDef] },
  { name: 'changes-undefined', open: faultyFactory({ changesUndefined: true }), groups: [adapterContractGroupDef, noLostChangeGroupDef] },
  { name: 'key-bytes', open: faultyFactory({ keyBytes: true }), groups: [faithfulDocumentsGroupDef] },
];

const { values } = parseArgs({ options: { n: { type: 'string', default: '100' }, only: { type: 'string' }, group: { type: 'string' } } });
const n = Number(values.n);
const only = values.only?.split(',');
const onlyGroups = values.group?.split(',');

for (const t of TARGETS) {
  if (only && !only.includes(t.name)) continue;
  // Each group on its own: a group catches the adapter when one of its checks fails.
  for (const group of t.groups) {
    if (onlyGroups && !onlyGroups.includes(group.id)) continue;
    let caught = 0;
    const started = Date.now();
    for (let i = 0; i < n; i++) {
      const reports = await runGroups([group], { name: t.name, open: t.open, ...(t.module ? { module: t.module } : {}) });
      if (reports.some((r) => r.status === 'failed')) caught++;
    }
    const mean = (Date.now() - started) / n / 1000;
    console.log(`${t.name.padEnd(22)} ${group.id.padEnd(20)} caught ${caught} / ${n}   (${mean.toFixed(1)} s per run)`);
  }
}
