/**
 * Runs fast-check properties with the suite's settings and turns a failure into one readable
 * error: the property, the seed and path, the shrunk counterexample, how to replay it, and the
 * violation itself.
 */
import fc from 'fast-check';
import type { ResolvedSettings } from './options.js';

/** A property failure with everything needed to replay it. */
export class PropertyFailure extends Error {
  readonly seed: number;
  readonly path: string;
  readonly counterexample: string;
  readonly numRuns: number;
  readonly numShrinks: number;

  constructor(property: string, details: { seed: number; path: string; counterexample: string; numRuns: number; numShrinks: number; cause: unknown }) {
    const cause = details.cause instanceof Error ? details.cause.message : String(details.cause);
    const commandsPath = /replayPath="([^"]*)"/.exec(details.counterexample)?.[1];
    super(
      [
        `property "${property}" failed after ${details.numRuns} run(s), shrunk ${details.numShrinks} time(s)`,
        `  seed: ${details.seed}`,
        `  path: ${details.path}`,
        ...(commandsPath ? [`  commands replay path: ${commandsPath}`] : []),
        `  counterexample: ${details.counterexample}`,
        `  replay: CSE_CONFORMANCE_SEED=${details.seed} CSE_CONFORMANCE_PATH=${details.path} (with CSE_CONFORMANCE_ONLY=<group>/<check> to run this property alone)`,
        `  violation: ${cause}`,
      ].join('\n'),
      { cause: details.cause },
    );
    this.seed = details.seed;
    this.path = details.path;
    this.counterexample = details.counterexample;
    this.numRuns = details.numRuns;
    this.numShrinks = details.numShrinks;
  }

  override get name(): string {
    return 'PropertyFailure';
  }
}

export interface PropertyRunOptions {
  /** Runs relative to the configured `numRuns` (default 1); at least 1 run. */
  readonly scale?: number;
  /** Extra fast-check parameters. */
  readonly params?: fc.Parameters<unknown>;
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
}

export async function checkProperty<Ts>(
  host: PropertyHost,
  name: string,
  property: fc.IAsyncProperty<Ts> | fc.IAsyncPropertyWithHooks<Ts>,
  options: PropertyRunOptions = {},
): Promise<void> {
  const settings = host.settings;
  const params: fc.Parameters<Ts> = {
    numRuns: runsFor(settings, options.scale),
    ...(settings.seed !== undefined ? { seed: settings.seed } : {}),
    ...(settings.seed !== undefined && settings.path !== undefined ? { path: settings.path } : {}),
    ...(options.params as fc.Parameters<Ts> | undefined),
  };
  const details = await fc.check(property, params);
  host.noteRuns?.(details.numRuns);
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
    });
  }
  throw new PropertyFailure(name, {
    seed: details.seed,
    path: details.counterexamplePath ?? '',
    counterexample: fc.stringify(details.counterexample),
    numRuns: details.numRuns,
    numShrinks: details.numShrinks,
    cause: details.errorInstance,
  });
}
