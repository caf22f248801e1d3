import { defineProject, mergeConfig } from 'vitest/config';
import { sourceConditions } from '../../vitest.shared.js';

export default mergeConfig(
  sourceConditions,
  defineProject({
    test: { name: 'adapter-level', include: ['test/**/*.test.ts'], testTimeout: 600_000, hookTimeout: 300_000 },
  }),
);
