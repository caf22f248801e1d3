import { playwright } from '@vitest/browser-playwright';
import { defineProject, mergeConfig } from 'vitest/config';
import { sourceConditions } from '../../vitest.shared.js';
import { CHROMIUM_ARGS, chromiumPath } from '../../test-support/chromium.js';

// The real run: the same test files in headless Chromium (Debian's, not a Playwright download).
export default mergeConfig(
  sourceConditions,
  defineProject({
    // Pre-bundled up front, so Vite does not reload the page mid-run when it first meets them.
    optimizeDeps: { include: ['idb', 'fast-check'] },
    test: {
      name: 'adapter-indexeddb-browser',
      include: ['test/**/*.test.ts'],
      exclude: ['test/**/*.node.test.ts'],
      globalSetup: ['test/check-chromium.ts'],
      testTimeout: 600_000, hookTimeout: 300_000,
      browser: {
        enabled: true,
        headless: true,
        screenshotFailures: false,
        provider: playwright({
          launchOptions: {
            executablePath: chromiumPath(),
            args: [...CHROMIUM_ARGS],
          },
        }),
        instances: [{ browser: 'chromium' }],
      },
    },
  }),
);
