import { CronExpressionParser } from 'cron-parser';
import cronstrue from 'cronstrue';
import { invalid } from '../core/errors';

// Cron maths for the governor. An expression has 5 fields (minute hour day-of-month month
// day-of-week) or 6 with a leading seconds field, which is how cron-parser reads them; the
// `@daily`-style aliases are accepted too. Hash fields (`H`) are refused: cron-parser fills
// them from a seed, and a plan must follow from its inputs alone.
//
// Times are computed by cron-parser in the endpoint's IANA zone, which is what makes them
// DST-correct: on a spring-forward day a wall-clock time that does not exist (02:30 in
// Berlin) runs once at the first instant after the gap (03:30); on a fall-back day a daily
// time inside the repeated hour runs once, at its first occurrence. Sub-hourly expressions
// follow elapsed time and so fire in both copies of the repeated hour.

//////////////////////////////////////// Validation

const ALIAS = /^@(yearly|annually|monthly|weekly|daily|hourly|minutely|secondly|weekdays|weekends)$/i;
const HASH_FIELD = /\bH\b/i;
// Any fixed instant does: parsing must not read the clock.
const PARSE_REFERENCE = new Date(Date.UTC(2000, 0, 1));

/** Why `timezone` is not an IANA zone this runtime knows, or null. */
export function validateTimezone(timezone: string): string | null {
  if (typeof timezone !== 'string' || timezone.trim() === '') return 'must be an IANA time zone';
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    return null;
  } catch {
    return `unknown IANA time zone "${timezone}"`;
  }
}

/** Why `expression` is not a cron expression the governor can plan, or null. */
export function validateCron(expression: string): string | null {
  if (typeof expression !== 'string' || expression.trim() === '') return 'must be a cron expression';
  const trimmed = expression.trim();
  if (ALIAS.test(trimmed)) return null;
  const fields = trimmed.split(/\s+/);
  if (fields.length !== 5 && fields.length !== 6) {
    return `expected 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first), got ${fields.length}`;
  }
  if (fields.some((field) => HASH_FIELD.test(field))) return 'hash fields (H) are not supported';
  try {
    CronExpressionParser.parse(trimmed, { currentDate: PARSE_REFERENCE, tz: 'UTC' }).next();
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

export const isValidCron = (expression: string): boolean => validateCron(expression) === null;

//////////////////////////////////////// Maths

/**
 * The next `count` fire times strictly after `after`, in `timezone`. Throws a `DomainError`
 * (`SCHEDULE.INVALID_CRON`, `SCHEDULE.INVALID_TIMEZONE`) for an input `validateCron` or
 * `validateTimezone` refuses.
 */
export function nextCronTimes(expression: string, timezone: string, after: Date, count: number): Date[] {
  assertPlannable(expression, timezone);
  if (count <= 0) return [];
  const iterator = CronExpressionParser.parse(expression.trim(), { currentDate: after, tz: timezone });
  return iterator.take(count).map((date) => date.toDate());
}

/**
 * The fire times in (`after`, `until`], in order, at most `limit` of them. Stops early, so a
 * long window costs no more than the times it returns. Throws like `nextCronTimes`.
 */
export function cronTimesBetween(
  expression: string,
  timezone: string,
  after: Date,
  until: Date,
  limit: number,
): Date[] {
  assertPlannable(expression, timezone);
  const iterator = CronExpressionParser.parse(expression.trim(), { currentDate: after, tz: timezone });
  const times: Date[] = [];
  while (times.length < limit) {
    const time = iterator.next().toDate();
    if (time.getTime() > until.getTime()) break;
    times.push(time);
  }
  return times;
}

function assertPlannable(expression: string, timezone: string): void {
  const cronProblem = validateCron(expression);
  if (cronProblem)
    throw invalid('SCHEDULE.INVALID_CRON', `invalid cron expression: ${cronProblem}`, { cron: cronProblem });
  const zoneProblem = validateTimezone(timezone);
  if (zoneProblem) throw invalid('SCHEDULE.INVALID_TIMEZONE', zoneProblem, { timezone: zoneProblem });
}

//////////////////////////////////////// Description

/** A human sentence for the expression ("At 09:00, Monday through Friday"), or null if invalid. */
export function describeCron(expression: string): string | null {
  if (validateCron(expression) !== null) return null;
  try {
    return cronstrue.toString(expression.trim(), {
      use24HourTimeFormat: true,
      throwExceptionOnParseError: true,
    });
  } catch {
    return null;
  }
}
