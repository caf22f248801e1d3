import { defineProject, mergeConfig } from 'vitest/config';
import { sourceConditions } from '../../vitest.shared.js';

export default mergeConfig(
  sourceConditions,
  defineProject({
    // A test here may be a whole `cse-conformance` run (Node, tsx, Vitest): bounds that only end a hung run.
    test: { name: 'conformance', include: ['test/**/*.test.ts'], testTimeout: 1_200_000, hookTimeout: 300_000 },
  }),
);
