/**
 * Registration of groups as vitest suites. Kept apart from `group.ts` so that tools (the
 * command, `runGroups`) can load the groups without loading vitest's test API.
 */
import { afterAll, describe, it } from 'vitest';
import { SuiteRun } from './context.js';
import type { Group, RequirementInput } from './group.js';
import { checkId, runCheck, selected } from './group.js';
import type { ConformanceOptions } from './options.js';

function relativeToCwd(file: string): string {
  const cwd = (globalThis as { process?: { cwd?: () => string } }).process?.cwd?.();
  return cwd !== undefined && file.startsWith(`${cwd}/`) ? file.slice(cwd.length + 1) : file;
}

/**
 * Registers `groups` as vitest suites for the adapter in `options`. Groups and checks whose
 * requirements are not met are registered as skipped tests whose title carries the reason.
 */
export function registerGroups(groups: readonly Group[], options: ConformanceOptions): void {
  const run = new SuiteRun(options);
  describe(`CSE conformance: ${options.name}`, async () => {
    afterAll(() => run.dispose());
    const { declared, effective } = await run.capabilities();
    const input: RequirementInput = { caps: effective, declared, options };
    for (const group of groups) {
      if (!selected(run.settings.only, group)) continue;
      describe(group.title, () => {
        const groupReason = group.requires?.(input);
        for (const check of group.checks) {
          if (!selected(run.settings.only, group, check)) continue;
          const reason = groupReason ?? check.requires?.(input);
          if (reason !== undefined) {
            it.skip(`${check.name} — skipped: ${reason}`, () => undefined);
          } else {
            it(
              check.name,
              async ({ task }) => {
                run.testFile ??= relativeToCwd(task.file.filepath);
                // Reporters (the cse-conformance table) read how many property runs the check made.
                (task.meta as Record<string, unknown>).cseRuns = await runCheck(run, effective, check, checkId(group, check));
              },
              check.timeout ?? 120_000,
            );
          }
        }
      });
    }
  });
}

