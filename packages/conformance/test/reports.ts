import type { CheckReport } from '../src/index.js';

/** The failed checks of a run, one line each with the first lines of the error (for assertion messages). */
export function describeFailures(reports: readonly CheckReport[]): string {
  return reports
    .filter((r) => r.status === 'failed')
    .map((r) => `${r.group} / ${r.check}: ${(r.error as Error).message.split('\n').slice(0, 6).join('\n    ')}`)
    .join('\n');
}
