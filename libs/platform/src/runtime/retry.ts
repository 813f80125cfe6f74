import { setTimeout as delay } from 'node:timers/promises';

export interface RetryOptions {
  /** What is being attempted, for the log line ("postgres", "nats"). */
  what: string;
  initialDelayMs?: number;
  maxDelayMs?: number;
  signal: AbortSignal;
  onRetry: (message: string) => void;
}

export function describeError(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return describeError(error.errors[0]);
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' && !error.message.includes(code)
      ? `${code} ${error.message}`
      : error.message;
  }
  return String(error);
}

/**
 * Runs `attempt` until it succeeds or `signal` aborts, doubling the pause between attempts.
 * Resolves with the result, or `null` when aborted.
 */
export async function retryUntilSuccess<T>(
  attempt: () => Promise<T>,
  options: RetryOptions,
): Promise<T | null> {
  const max = options.maxDelayMs ?? 10_000;
  let wait = options.initialDelayMs ?? 500;
  for (let tries = 1; !options.signal.aborted; tries++) {
    try {
      return await attempt();
    } catch (error) {
      if (options.signal.aborted) return null;
      options.onRetry(
        `${options.what} not available (${describeError(error)}); attempt ${tries}, retrying in ${formatMs(wait)}`,
      );
      try {
        await delay(wait, undefined, { signal: options.signal });
      } catch {
        return null;
      }
      wait = Math.min(wait * 2, max);
    }
  }
  return null;
}

function formatMs(ms: number): string {
  return ms >= 1000 ? `${ms / 1000}s` : `${ms}ms`;
}

export { withTimeout } from '@cronicorn/messaging';

/** A promise with its resolve function, for "ready" signals that outlive a constructor. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
