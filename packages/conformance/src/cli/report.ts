/**
 * The report of a `cse-conformance` run: built from the test results Vitest reports, written
 * as JSON (`--json`) and printed as a table.
 */
import { ALL_GROUPS } from '../groups/index.js';

/** One test as Vitest reported it. */
export interface CaseResult {
  /** The group's title (the test's suite). */
  readonly suite: string;
  /** The test's title (for a skip: `<check> — skipped: <reason>`). */
  readonly title: string;
  readonly state: 'passed' | 'failed' | 'skipped' | 'pending';
  readonly durationMs: number;
  readonly runs: number;
  readonly errors: readonly { readonly message: string }[];
}

export interface CheckResult {
  /** 1-based number of the check in its group (`--only group/number`). */
  readonly number: number;
  readonly name: string;
  readonly status: 'passed' | 'failed' | 'skipped';
  readonly reason?: string;
  /** fast-check runs made. */
  readonly runs: number;
  readonly durationMs: number;
  readonly error?: { readonly message: string; readonly seed?: number; readonly path?: string; readonly commandsPath?: string; readonly counterexample?: string };
  /** The command that runs this check alone again (failures only). */
  readonly replay?: string;
}

export interface GroupResult {
  readonly id: string;
  readonly title: string;
  readonly status: 'passed' | 'failed' | 'skipped';
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
  readonly runs: number;
  readonly durationMs: number;
  readonly checks: CheckResult[];
}

export interface Report {
  readonly adapter: string;
  readonly seed: number;
  /** Base number of runs per property. */
  readonly runs: number;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly ok: boolean;
  readonly summary: { readonly passed: number; readonly failed: number; readonly skipped: number };
  readonly groups: GroupResult[];
  /** Errors outside any check (a factory that fails to load, unhandled rejections). */
  readonly errors: string[];
}

const SKIP_MARK = ' — skipped: ';

function parseError(message: string): CheckResult['error'] {
  const seed = /^\s*seed: (-?\d+)$/m.exec(message)?.[1];
  const path = /^\s*path: (\S*)$/m.exec(message)?.[1];
  const counterexample = /^\s*counterexample: (.*)$/m.exec(message)?.[1];
  const commandsPath = /^\s*commands path: (\S*)$/m.exec(message)?.[1];
  return {
    message,
    ...(seed !== undefined ? { seed: Number(seed) } : {}),
    ...(path ? { path } : {}),
    ...(commandsPath ? { commandsPath } : {}),
    ...(counterexample !== undefined ? { counterexample } : {}),
  };
}

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function buildReport(input: {
  adapter: string;
  seed: number;
  runs: number;
  startedAt: Date;
  durationMs: number;
  cases: readonly CaseResult[];
  errors: readonly string[];
  /** The arguments that select the adapter, for replay commands (e.g. `['--adapter', 'sqlite']`). */
  adapterArgs: readonly string[];
}): Report {
  const groups = new Map<string, GroupResult>();
  for (const c of input.cases) {
    const def = ALL_GROUPS.find((g) => g.title === c.suite);
    const id = def?.id ?? c.suite;
    const skipAt = c.title.indexOf(SKIP_MARK);
    const name = skipAt >= 0 ? c.title.slice(0, skipAt) : c.title;
    const reason = skipAt >= 0 ? c.title.slice(skipAt + SKIP_MARK.length) : undefined;
    const status = c.state === 'failed' ? 'failed' : c.state === 'passed' ? 'passed' : 'skipped';
    const number = (def?.checks.findIndex((k) => k.name === name) ?? -1) + 1;
    const error = status === 'failed' ? parseError(c.errors.map((e) => e.message).join('\n') || 'failed without a message') : undefined;
    const replay =
      status === 'failed'
        ? [
            'cse-conformance',
            ...input.adapterArgs,
            '--only',
            `${id}/${number > 0 ? number : name}`,
            '--seed',
            String(error?.seed ?? input.seed),
            ...(error?.path ? ['--path', error.path] : []),
            ...(error?.commandsPath ? ['--commands-path', error.commandsPath] : []),
            '--runs',
            String(input.runs),
          ]
            .map(quote)
            .join(' ')
        : undefined;
    const check: CheckResult = {
      number,
      name,
      status,
      ...(reason !== undefined ? { reason } : status === 'skipped' ? { reason: 'skipped' } : {}),
      runs: c.runs,
      durationMs: Math.round(c.durationMs),
      ...(error ? { error } : {}),
      ...(replay ? { replay } : {}),
    };
    const g = groups.get(id) ?? { id, title: c.suite, status: 'skipped', passed: 0, failed: 0, skipped: 0, runs: 0, durationMs: 0, checks: [] };
    groups.set(id, {
      ...g,
      passed: g.passed + (status === 'passed' ? 1 : 0),
      failed: g.failed + (status === 'failed' ? 1 : 0),
      skipped: g.skipped + (status === 'skipped' ? 1 : 0),
      runs: g.runs + c.runs,
      durationMs: g.durationMs + check.durationMs,
      checks: [...g.checks, check],
    });
  }
  const ordered = [...groups.values()]
    .map((g): GroupResult => ({ ...g, status: g.failed > 0 ? 'failed' : g.passed > 0 ? 'passed' : 'skipped' }))
    .sort((a, b) => order(a.id) - order(b.id));
  const summary = {
    passed: ordered.reduce((n, g) => n + g.passed, 0),
    failed: ordered.reduce((n, g) => n + g.failed, 0),
    skipped: ordered.reduce((n, g) => n + g.skipped, 0),
  };
  return {
    adapter: input.adapter,
    seed: input.seed,
    runs: input.runs,
    startedAt: input.startedAt.toISOString(),
    durationMs: Math.round(input.durationMs),
    ok: summary.failed === 0 && input.errors.length === 0 && summary.passed > 0,
    summary,
    groups: ordered,
    errors: [...input.errors],
  };
}

function order(id: string): number {
  const i = ALL_GROUPS.findIndex((g) => g.id === id);
  return i < 0 ? ALL_GROUPS.length : i;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** The readable end of a run: one row per group, then skips with reasons, then failures. */
export function formatReport(report: Report): string {
  const rows = report.groups.map((g) => [g.title, g.status, String(g.passed), String(g.failed), String(g.skipped), String(g.runs), seconds(g.durationMs)]);
  const header = ['group', 'result', 'passed', 'failed', 'skipped', 'runs', 'time'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 || i === 1 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ');
  const out: string[] = [];
  out.push('');
  out.push(`CSE conformance: ${report.adapter}   seed ${report.seed}   base ${report.runs} runs per property   ${seconds(report.durationMs)}`);
  out.push('');
  out.push(line(header));
  out.push(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) out.push(line(r));
  const skipped = report.groups.flatMap((g) => g.checks.filter((c) => c.status === 'skipped').map((c) => `  ${g.title} › ${c.name}\n      ${c.reason ?? ''}`));
  if (skipped.length > 0) {
    out.push('');
    out.push('Skipped (by capability or option, never counted as passed):');
    out.push(...skipped);
  }
  const failures = report.groups.flatMap((g) => g.checks.filter((c) => c.status === 'failed').map((c) => ({ g, c })));
  if (failures.length > 0) {
    out.push('');
    out.push('Failures:');
    failures.forEach(({ g, c }, i) => {
      out.push(`  ${i + 1}. ${g.title} › ${c.name}`);
      const message = (c.error?.message ?? '').split('\n').filter((l) => !/^\s*replay: /.test(l));
      for (const l of message.slice(0, 14)) out.push(`       ${l.length > 400 ? `${l.slice(0, 400)}…` : l}`);
      if (c.replay) out.push(`     replay: ${c.replay}`);
    });
  }
  if (report.errors.length > 0) {
    out.push('');
    out.push('Errors outside the checks:');
    for (const e of report.errors) out.push(`  ${e.split('\n').slice(0, 8).join('\n  ')}`);
  }
  out.push('');
  out.push(
    `${report.ok ? 'PASS' : 'FAIL'}: ${report.summary.passed} passed, ${report.summary.failed} failed, ${report.summary.skipped} skipped` +
      (report.summary.passed === 0 && report.summary.failed === 0 ? ' (nothing ran)' : ''),
  );
  return out.join('\n');
}
