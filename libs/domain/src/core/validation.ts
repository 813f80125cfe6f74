// Small field checks shared by the deciders. Each returns what is wrong, or null.

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i;

/** Longest free-text reason (pauses, hints, cleared hints). */
export const MAX_REASON_LENGTH = 1_000;

/**
 * A Date for an ISO 8601 instant, null for null, undefined when unreadable. The offset is
 * required: a local time would depend on the zone of whichever process reads it.
 */
export function instant(value: string | null): Date | null | undefined {
  if (value === null) return null;
  if (typeof value !== 'string' || !ISO_INSTANT.test(value)) return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** Why `until` is not null or an instant after `now`. */
export function futureInstantError(value: string | null, now: Date): string | null {
  const date = instant(value);
  if (date === undefined) return 'must be an ISO 8601 instant with an offset';
  return date !== null && date.getTime() <= now.getTime() ? 'must be in the future' : null;
}

/**
 * Why a parsed URL must not be stored: user info (`user:password@`) would sit in clear in
 * events, answers and NATS messages (DESIGN §8). `instead` says where credentials belong.
 */
export function urlUserInfoError(url: URL, instead: string): string | null {
  return url.username || url.password ? `must not contain a user name or password; ${instead}` : null;
}

export function textError(value: string, maxLength: number, required: boolean): string | null {
  if (typeof value !== 'string') return 'must be a string';
  if (required && value.trim() === '') return 'must not be empty';
  return value.length > maxLength ? `must be at most ${maxLength} characters` : null;
}

export function reasonError(reason: string | null): string | null {
  return reason === null ? null : textError(reason, MAX_REASON_LENGTH, false);
}

export function integerError(value: number, min: number, max?: number): string | null {
  if (!Number.isInteger(value)) return 'must be an integer';
  if (value < min) return `must be at least ${min}`;
  return max !== undefined && value > max ? `must be at most ${max}` : null;
}

/** Drops the keys whose value is undefined, so a spread never overwrites with undefined. */
export function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Keeps the failed checks of a `field → error | null` map. */
export function failedChecks(checks: Record<string, string | null>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(checks).filter((entry): entry is [string, string] => entry[1] !== null),
  );
}
