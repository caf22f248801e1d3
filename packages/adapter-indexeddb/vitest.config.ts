import { defineProject, mergeConfig } from 'vitest/config';
import { sourceConditions } from '../../vitest.shared.js';

// The quick run: Node on fake-indexeddb. The real run is vitest.browser.config.ts (Chromium).
export default mergeConfig(
  sourceConditions,
  defineProject({
    test: {
      name: 'adapter-indexeddb',
      include: ['test/**/*.test.ts'],
      setupFiles: ['test/setup-node.ts'],
      testTimeout: 600_000, hookTimeout: 300_000,
    },
  }),
);
