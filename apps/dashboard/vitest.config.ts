import { defineProject, mergeConfig } from 'vitest/config';
import { sourceConditions } from '../../vitest.shared.js';

// The dashboard end to end: the launcher's real processes and Debian's headless Chromium.
export default mergeConfig(
  sourceConditions,
  defineProject({
    test: { name: 'dashboard', include: ['test/**/*.test.ts'], testTimeout: 600_000, hookTimeout: 300_000 },
  }),
);
