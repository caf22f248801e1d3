/**
 * The order in which `vitest run` starts test files: the longest first, across all projects.
 *
 * Vitest's own order runs project after project (alphabetically) and, within one, files by the
 * durations of the last local run or by size. On a clean clone (CI) that starts the relay fleet,
 * the process-kill tests and the bench smoke last, and the run ends with one or two of them alone
 * on an otherwise idle machine. Starting them first lets the many short files fill the other
 * workers while they run. A file's weight is its duration in Vitest's cache of the last run when
 * there is one, otherwise the estimate below (seconds on a quiet 2-core machine, from the fresh-clone CI run of
 * issue 21; the relative order is what matters), otherwise 1.
 */
import { relative } from 'node:path';
import { BaseSequencer } from 'vitest/node';
import type { TestSpecification } from 'vitest/node';

const ESTIMATES: [RegExp, number][] = [
  [/adapter-redis\/test\/conformance-cluster\.test\.ts$/, 200],
  [/adapter-redis\/test\/conformance\.test\.ts$/, 160],
  [/test\/bench-smoke\.test\.ts$/, 150],
  [/adapter-indexeddb\/test\/conformance\.test\.ts$/, 110],
  [/conformance\/test\/self-test\.test\.ts$/, 108],
  [/adapter-level\/test\/conformance\.test\.ts$/, 100],
  [/conformance\/test\/cli(-browser)?\.test\.ts$/, 92],
  [/adapter-sqlite\/test\/conformance\.test\.ts$/, 90],
  [/apps\/dashboard\/test\/fleet\.test\.ts$/, 88],
  [/sync\/test\/relay-fleet\.test\.ts$/, 80],
  [/conformance\/test\/cli-replay\.test\.ts$/, 65],
  [/test\/pack\.test\.ts$/, 53],
  [/apps\/dashboard\/test\/dashboard\.test\.ts$/, 45],
  [/conformance\/test\/.*conformance\.test\.ts$/, 45],
  [/sync\/test\/relay-processes\.test\.ts$/, 43],
  [/conformance\/test\/self-test-processes\.test\.ts$/, 33],
  [/sync\/test\/browser\/reload\.spec\.ts$/, 30],
  [/apps\/dashboard\/test\/.*\.test\.ts$/, 25],
  [/sync\/test\/(processes|faults|transport-faults|relay-liveness|edge-cli)\.test\.ts$/, 20],
  [/sync\/test\/browser\/.*\.spec\.ts$/, 20],
  [/test\/(crash|multi-process|disk-full|open-race)\.test\.ts$/, 10],
];

export default class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const base = await super.sort(files);
    const root = this.ctx.config.root;
    const weight = new Map<TestSpecification, number>();
    for (const spec of base) {
      const cached = this.ctx.cache.getFileTestResults(`${spec.project.name}:${relative(root, spec.moduleId)}`)?.duration;
      const path = spec.moduleId.replaceAll('\\', '/');
      weight.set(spec, cached !== undefined && cached > 0 ? cached / 1000 : (ESTIMATES.find(([re]) => re.test(path))?.[1] ?? 1));
    }
    // stable: equal weights keep Vitest's own order
    return base.map((spec, i) => ({ spec, i })).sort((a, b) => weight.get(b.spec)! - weight.get(a.spec)! || a.i - b.i).map(({ spec }) => spec);
  }
}
