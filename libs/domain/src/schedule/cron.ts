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
//
// cron-parser knows about a clock change only while it steps through it: started just after
// one (inside the landing hour, or the second copy of the repeated hour), it steps over the
// moved 02:30 run or finds the repeated time a second time. So a search that starts shortly
// after a change of the zone's offset starts `DST_LOOKBACK_MS` earlier and drops the times
// up to its reference.

//////////////////////////////////////// Validation

const ALIAS = /^@(yearly|annually|monthly|weekly|daily|hourly|minutely|secondly|weekdays|weekends)$/i;
const HASH_FIELD = /\bH\b/i;
// Any fixed instant does: parsing must not read the clock.
const PARSE_REFERENCE = new Date(Date.UTC(2000, 0, 1));
/** The last instant a `Date` holds (+275760-09-13). */
export const MAX_INSTANT = 8.64e15;
/** Longer than any clock change (2 h at most) plus the hour it lands in. */
const DST_LOOKBACK_MS = 3 * 60 * 60_000;

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
  const next = fireTimesAfter(expression, timezone, after);
  return Array.from({ length: Math.max(0, count) }, next);
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
  const next = fireTimesAfter(expression, timezone, after);
  const times: Date[] = [];
  while (times.length < limit) {
    const time = next();
    if (time.getTime() > until.getTime()) break;
    times.push(time);
  }
  return times;
}

/** The fire times strictly after `after`, one per call, stepping through a clock change just before it. */
function fireTimesAfter(expression: string, timezone: string, after: Date): () => Date {
  if (!(Math.abs(after.getTime()) <= MAX_INSTANT - DST_LOOKBACK_MS)) throw noFireTime(expression, after);
  const parse = (currentDate: Date) =>
    CronExpressionParser.parse(expression.trim(), { currentDate, tz: timezone });
  // Fire times are whole seconds; from a fraction just before a clock change cron-parser
  // skips a week of a weekly expression, so the search starts from the whole second.
  const start = Math.floor(after.getTime() / 1000) * 1000;
  const lookback = new Date(start - DST_LOOKBACK_MS);
  const fromAfter = parse(new Date(start));
  // An expression for every hour follows elapsed time: no run moves, none repeats.
  const everyHour = fromAfter.fields.hour.values.length === 24;
  const iterator =
    everyHour || utcOffset(timezone, lookback) === utcOffset(timezone, after) ? fromAfter : parse(lookback);
  const next = () => {
    try {
      return iterator.next().toDate();
    } catch {
      // cron-parser's own limits: the end of the date range, or its loop limit.
      throw noFireTime(expression, after);
    }
  };
  return () => {
    let time = next();
    while (time.getTime() <= after.getTime()) time = next();
    return time;
  };
}

const noFireTime = (expression: string, after: Date) =>
  invalid('SCHEDULE.NO_FIRE_TIME', `no fire time of "${expression}" after ${String(after.getTime())} ms`, {
    cron: 'no fire time within the range of a date',
  });

const offsetFormats = new Map<string, Intl.DateTimeFormat>();

/** The zone's offset from UTC at `at`, as Intl names it ("GMT+02:00"). */
function utcOffset(timezone: string, at: Date): string {
  let format = offsetFormats.get(timezone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', { timeZone: timezone, timeZoneName: 'longOffset' });
    offsetFormats.set(timezone, format);
  }
  return format.formatToParts(at).find((part) => part.type === 'timeZoneName')?.value ?? '';
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
