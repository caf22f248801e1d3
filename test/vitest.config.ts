import { defineProject } from 'vitest/config';

/** Checks of the repository as a whole: the packed packages as a consumer gets them, the bench smoke. */
export default defineProject({
  test: { name: 'repo', include: ['**/*.test.ts'], testTimeout: 600_000, hookTimeout: 300_000 },
});
