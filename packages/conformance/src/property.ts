/**
 * Runs fast-check properties with the suite's settings and turns a failure into one readable
 * error: the property, the seed and path, the shrunk counterexample, how to replay it, and the
 * violation itself.
 */
import fc from 'fast-check';
import type { ResolvedSettings } from './options.js';

/** Builds the command that replays a failure (set by whoever runs the checks). */
export type ReplayCommand = (failure: { readonly seed: number; readonly path: string; readonly commandsPath?: string }) => string;

/** A property failure with everything needed to replay it. */
export class PropertyFailure extends Error {
  readonly seed: number;
  readonly path: string;
  readonly counterexample: string;
  readonly numRuns: number;
  readonly numShrinks: number;
  /** fast-check `replayPath` of a shrunk command sequence (model-based properties). */
  readonly commandsPath: string | undefined;
  /** The command that reproduces this failure, as printed. */
  readonly replay: string;

  constructor(
    property: string,
    details: { seed: number; path: string; counterexample: string; numRuns: number; numShrinks: number; cause: unknown; interrupted?: boolean; replay?: ReplayCommand },
  ) {
    const cause = details.cause instanceof Error ? details.cause.message : String(details.cause);
    const commandsPath = /replayPath="([^"]*)"/.exec(details.counterexample)?.[1];
    const replay = details.replay?.({ seed: details.seed, path: details.path, ...(commandsPath ? { commandsPath } : {}) }) ??
      `CSE_CONFORMANCE_SEED=${details.seed} CSE_CONFORMANCE_PATH=${details.path}${commandsPath ? ` CSE_CONFORMANCE_COMMANDS_PATH=${quoteArg(commandsPath)}` : ''}`;
    super(
      [
        `property "${property}" failed after ${details.numRuns} run(s), shrunk ${details.numShrinks} time(s)${details.interrupted ? ' (shrinking stopped at its time budget)' : ''}`,
        `  seed: ${details.seed}`,
        `  path: ${details.path}`,
        ...(commandsPath ? [`  commands path: ${commandsPath}`] : []),
        `  counterexample: ${details.counterexample}`,
        `  replay: ${replay}`,
        `  violation: ${cause}`,
      ].join('\n'),
      { cause: details.cause },
    );
    this.seed = details.seed;
    this.path = details.path;
    this.counterexample = details.counterexample;
    this.numRuns = details.numRuns;
    this.numShrinks = details.numShrinks;
    this.commandsPath = commandsPath;
    this.replay = replay;
  }

  override get name(): string {
    return 'PropertyFailure';
  }
}

/** Quotes one shell argument when it needs it. */
export function quoteArg(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Default time budget of one property, shrinking included (ms). */
export const PROPERTY_BUDGET_MS = 45_000;
/** Default time limit of one run of a property (ms): a run that hangs is a failure. */
export const RUN_TIMEOUT_MS = 20_000;

export interface PropertyRunOptions {
  /** Runs relative to the configured `numRuns` (default 1); at least 1 run. */
  readonly scale?: number;
  /** Extra fast-check parameters. */
  readonly params?: fc.Parameters<unknown>;
  /** Time budget of the whole property, shrinking included (default `PROPERTY_BUDGET_MS`). */
  readonly budgetMs?: number;
  /** Time limit of one run (default `RUN_TIMEOUT_MS`). */
  readonly runTimeoutMs?: number;
}

/** Number of runs for a property at `scale`. */
export function runsFor(settings: ResolvedSettings, scale = 1): number {
  return Math.max(1, Math.round(settings.numRuns * scale));
}

/**
 * Checks `property` and throws a `PropertyFailure` on a counterexample. A configured path is
 * only used together with a configured seed (that is what a replay is).
 */
/** Where a property runs: the settings, and a sink for how many runs it made. */
export interface PropertyHost {
  readonly settings: ResolvedSettings;
  noteRuns?(runs: number): void;
  /** Builds the replay command printed with a failure. */
  readonly replay?: ReplayCommand;
}

export async function checkProperty<Ts>(
  host: PropertyHost,
  name: string,
  property: fc.IAsyncProperty<Ts> | fc.IAsyncPropertyWithHooks<Ts>,
  options: PropertyRunOptions = {},
): Promise<void> {
  const settings = host.settings;
  // Budgets: a run that hangs fails at its timeout; the property (shrinking included) stops at
  // its budget and reports what it found by then, so a failing run always ends.
  const params: fc.Parameters<Ts> = {
    numRuns: runsFor(settings, options.scale),
    timeout: options.runTimeoutMs ?? RUN_TIMEOUT_MS,
    interruptAfterTimeLimit: options.budgetMs ?? PROPERTY_BUDGET_MS,
    markInterruptAsFailure: false,
    ...(settings.seed !== undefined ? { seed: settings.seed } : {}),
    ...(settings.seed !== undefined && settings.path !== undefined ? { path: settings.path } : {}),
    ...(options.params as fc.Parameters<Ts> | undefined),
  };
  const details = await fc.check(property, params);
  host.noteRuns?.(details.numRuns);
  if (!details.failed && details.interrupted && details.numRuns === 0) {
    throw new PropertyFailure(name, {
      seed: details.seed,
      path: '',
      counterexample: '(none)',
      numRuns: 0,
      numShrinks: 0,
      cause: new Error(`not one run finished within the property's budget of ${params.interruptAfterTimeLimit as number} ms`),
      ...(host.replay ? { replay: host.replay } : {}),
    });
  }
  if (!details.failed) return;
  if (details.counterexample === null) {
    // Interrupted or too many skips: still a failure, with the seed.
    throw new PropertyFailure(name, {
      seed: details.seed,
      path: details.counterexamplePath ?? '',
      counterexample: '(none)',
      numRuns: details.numRuns,
      numShrinks: 0,
      cause: details.errorInstance ?? new Error('the property could not run to completion'),
      ...(host.replay ? { replay: host.replay } : {}),
    });
  }
  throw new PropertyFailure(name, {
    seed: details.seed,
    path: details.counterexamplePath ?? '',
    counterexample: fc.stringify(details.counterexample),
    numRuns: details.numRuns,
    numShrinks: details.numShrinks,
    cause: details.errorInstance,
    interrupted: details.interrupted,
    ...(host.replay ? { replay: host.replay } : {}),
  });
}
