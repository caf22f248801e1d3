/** `withRetry`: runs an optimistic operation again after a lost race. */
import { ValidationError, describeValue, isCseError } from './errors.js';
import { optionsOf } from './input-checks.js';

export interface RetryOptions {
  /** Attempts after the first. Default 5. */
  readonly retries?: number;
  /** First backoff in ms; doubles each time, with jitter. Default 10. */
  readonly baseDelayMs?: number;
  /** Largest backoff in ms. Default 1000. */
  readonly maxDelayMs?: number;
}

/**
 * Runs `fn` and runs it again when it throws `CONFLICT` (a lost optimistic race), waiting
 * 10, 20, 40 ... ms (with jitter) in between. Other errors pass through at once. After the last
 * attempt the last `ConflictError` is thrown.
 */
export async function withRetry<T>(fn: () => Promise<T>, given?: RetryOptions): Promise<T> {
  if (typeof fn !== 'function') throw new ValidationError(`withRetry takes a function, got ${describeValue(fn)}`);
  const options = optionsOf(given, 'retry options', ['retries', 'baseDelayMs', 'maxDelayMs']);
  const retries = options.retries ?? 5;
  if (!Number.isSafeInteger(retries) || retries < 0) throw new ValidationError(`retries must be a non-negative integer, got ${describeValue(retries)}`);
  const base = options.baseDelayMs ?? 10;
  const max = options.maxDelayMs ?? 1000;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (!isCseError(e, 'CONFLICT') || attempt >= retries) throw e;
      const delay = Math.min(max, base * 2 ** attempt) * (0.5 + Math.random() / 2);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
