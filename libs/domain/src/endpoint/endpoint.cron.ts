import { CronExpressionParser } from 'cron-parser';

// Validation only. The governor's cron module does the planning maths; both parse with
// cron-parser in the endpoint's zone, so an expression accepted here is one it can plan.

/** Why `timezone` is not an IANA zone this runtime knows, or null. */
export function timezoneError(timezone: string): string | null {
  if (typeof timezone !== 'string' || timezone.trim() === '') return 'must be an IANA time zone';
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    return null;
  } catch {
    return `unknown IANA time zone "${timezone}"`;
  }
}

/**
 * Why `expression` is not a usable cron in `timezone`, or null. An expression that parses
 * but can never fire (30 February) is refused too; `now` keeps the check off the clock.
 */
export function cronError(expression: string, timezone: string, now: Date): string | null {
  if (typeof expression !== 'string' || expression.trim() === '') return 'must be a cron expression';
  if (timezoneError(timezone)) return null;
  try {
    CronExpressionParser.parse(expression, { tz: timezone, currentDate: now }).next();
    return null;
  } catch (error) {
    return `invalid cron expression: ${error instanceof Error ? error.message : String(error)}`;
  }
}
