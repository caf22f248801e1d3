import { defineProject, mergeConfig } from 'vitest/config';
import { sourceConditions } from '../../vitest.shared.js';

export default mergeConfig(
  sourceConditions,
  defineProject({
    test: { name: 'adapter-redis', include: ['test/**/*.test.ts'], globalSetup: ['test/global-setup.ts'], testTimeout: 600_000, hookTimeout: 300_000 },
  }),
);
