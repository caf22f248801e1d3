/**
 * Groups and checks: the suite as data, so the same checks register as vitest tests
 * (`registerGroups`) or run directly (`runGroups`, what the suite's self-test and tools use).
 */
import type { AdapterCapabilities } from '@cse/core';
import type { CapabilityFlag } from './context.js';
import { Scope, SuiteRun, isNode } from './context.js';
import type { ConformanceOptions } from './options.js';
import { Violation } from './assert.js';

/** What a requirement sees. */
export interface RequirementInput {
  /** Capabilities this run uses. */
  readonly caps: Readonly<AdapterCapabilities>;
  /** Capabilities the adapter declares. */
  readonly declared: Readonly<AdapterCapabilities>;
  readonly options: ConformanceOptions;
}

/** Returns why a check cannot run here (it is then reported as skipped with that reason), or `undefined`. */
export type Requirement = (input: RequirementInput) => string | undefined;

/** One test: throws when the adapter violates the contract. */
export interface Check {
  readonly name: string;
  readonly requires?: Requirement;
  readonly run: (scope: Scope) => Promise<void>;
  /** Vitest timeout in ms. Default 120 000 (properties run many times). */
  readonly timeout?: number;
}

/** A group of checks, usually one guarantee of DESIGN.md. */
export interface Group {
  /** Stable id for `--only` and reports, e.g. `sync-ids`. */
  readonly id: string;
  /** Title in test output, e.g. `1. Sync ids`. */
  readonly title: string;
  readonly requires?: Requirement;
  readonly checks: readonly Check[];
}

/** A requirement on a declared capability. */
export function needs(flag: CapabilityFlag): Requirement {
  return ({ caps, declared }) => {
    if (caps[flag]) return undefined;
    return declared[flag] ? `${flag} is turned off by options.capabilities` : `adapter does not declare ${flag}`;
  };
}

/** Child processes: needs Node and the `module` option. */
export const needsChildren: Requirement = ({ options }) => {
  if (!isNode()) return 'needs Node child processes';
  if (options.module === undefined) return 'no `module` option (the factory module a child process imports)';
  return undefined;
};

/** All of the requirements. */
export function all(...reqs: Requirement[]): Requirement {
  return (input) => {
    for (const r of reqs) {
      const reason = r(input);
      if (reason !== undefined) return reason;
    }
    return undefined;
  };
}

export function selected(only: readonly string[], group: Group, check?: Check): boolean {
  if (only.length === 0) return true;
  return only.some((o) => {
    const [g, c] = o.split('/', 2) as [string, string | undefined];
    if (g !== group.id) return false;
    // A check is named by its title or by its number in the group (1-based): `sync-ids/3`.
    return c === undefined || check === undefined || c === check.name || c === String(group.checks.indexOf(check) + 1);
  });
}

export interface CheckReport {
  readonly group: string;
  readonly check: string;
  readonly status: 'passed' | 'failed' | 'skipped';
  /** Why it was skipped. */
  readonly reason?: string;
  readonly error?: unknown;
  /** fast-check runs the check made (0 for a plain test). */
  readonly runs?: number;
  readonly durationMs: number;
}

/** The id `--only` takes for a check: `group/number`. */
export function checkId(group: Group, check: Check): string {
  return `${group.id}/${group.checks.indexOf(check) + 1}`;
}

/** Default time budget of a check (ms); the watchdog fails it after that. */
export const CHECK_BUDGET_MS = 110_000;

/** The watchdog's budget for `check`: a little under its vitest timeout, so the report says why. */
export function checkBudget(check: Check): number {
  return check.timeout === undefined ? CHECK_BUDGET_MS : Math.max(1000, check.timeout - 10_000);
}

/**
 * Runs one check in a fresh scope; returns the number of property runs it made. A watchdog
 * fails the check when it runs past its budget, so a hanging adapter never hangs the run.
 */
export async function runCheck(run: SuiteRun, caps: Readonly<AdapterCapabilities>, check: Check, id = ''): Promise<number> {
  const scope = new Scope(run, caps, { runs: 0 }, id);
  const budget = checkBudget(check);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const watchdog = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Violation(`${id} "${check.name}" did not finish within its time budget of ${Math.round(budget / 1000)} s (watchdog): an adapter call hangs, or the adapter is far too slow`)),
      budget,
    );
  });
  try {
    await Promise.race([check.run(scope), watchdog]);
  } catch (e) {
    // Do not hide the check's own failure behind a close error.
    // A hung check may never let its adapters close: do not wait on them.
    void Promise.race([scope.close(), new Promise((r) => setTimeout(r, 5000))]).catch(() => undefined);
    throw e;
  } finally {
    clearTimeout(timer);
  }
  await scope.close();
  return scope.stats.runs;
}

/**
 * Runs `groups` directly (no vitest registration) and reports every check. Never throws for a
 * failing check: the failure is in the report.
 */
export async function runGroups(groups: readonly Group[], options: ConformanceOptions): Promise<CheckReport[]> {
  const run = new SuiteRun(options);
  const reports: CheckReport[] = [];
  try {
    const { declared, effective } = await run.capabilities();
    const input: RequirementInput = { caps: effective, declared, options };
    for (const group of groups) {
      if (!selected(run.settings.only, group)) continue;
      const groupReason = group.requires?.(input);
      for (const check of group.checks) {
        if (!selected(run.settings.only, group, check)) continue;
        const reason = groupReason ?? check.requires?.(input);
        const started = Date.now();
        if (reason !== undefined) {
          reports.push({ group: group.id, check: check.name, status: 'skipped', reason, durationMs: 0 });
          continue;
        }
        try {
          const runs = await runCheck(run, effective, check, checkId(group, check));
          reports.push({ group: group.id, check: check.name, status: 'passed', runs, durationMs: Date.now() - started });
        } catch (error) {
          reports.push({ group: group.id, check: check.name, status: 'failed', error, durationMs: Date.now() - started });
        }
      }
    }
  } finally {
    await run.dispose();
  }
  return reports;
}
