import { defineProject, mergeConfig } from 'vitest/config';
import { sourceConditions } from '../../vitest.shared.js';

// The real-browser run: Node tests that drive Debian's headless Chromium with Playwright
// (test/browser/*.spec.ts), a page reload being part of what they check.
export default mergeConfig(
  sourceConditions,
  defineProject({
    test: { name: 'sync-browser', include: ['test/browser/**/*.spec.ts'], testTimeout: 600_000, hookTimeout: 300_000 },
  }),
);
