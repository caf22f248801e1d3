import { defaultClientConditions, defaultServerConditions } from 'vite';
import type { UserConfig } from 'vite';

/**
 * Resolve `@cse/*` packages to their TypeScript sources in tests (the `@cse/source` export
 * condition), so a test never runs against a stale `dist/`.
 */
export const sourceConditions: UserConfig = {
  resolve: { conditions: ['@cse/source', ...defaultClientConditions] },
  ssr: { resolve: { conditions: ['@cse/source', ...defaultServerConditions] } },
};
