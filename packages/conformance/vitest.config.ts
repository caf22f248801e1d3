import { defineProject, mergeConfig } from 'vitest/config';
import { sourceConditions } from '../../vitest.shared.js';

export default mergeConfig(
  sourceConditions,
  defineProject({
    test: { name: 'conformance', include: ['test/**/*.test.ts'], testTimeout: 120_000 },
  }),
);
