import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';
import LongestFirst from './vitest.sequencer.js';

/**
 * Test files run in this many worker processes at once, across all projects. Vitest's default
 * (cores - 1: one worker on a 2-core laptop) leaves the cores idle while a file waits for its
 * child processes, Chromium, redis-server or a relay; one more worker than cores keeps them busy.
 * `CSE_TEST_WORKERS=1` runs one file at a time.
 */
const workers = Number(process.env.CSE_TEST_WORKERS) || availableParallelism() + 1;

export default defineConfig({
  test: {
    maxWorkers: workers,
    sequence: { sequencer: LongestFirst },
    projects: ['packages/*/vitest.config.ts', 'packages/*/vitest.*.config.ts', 'apps/*/vitest.config.ts', 'test/vitest.config.ts'],
  },
});
