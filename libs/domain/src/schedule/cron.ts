import { CronExpressionParser } from 'cron-parser';
import cronstrue from 'cronstrue';
import { invalid } from '../core/errors';

// Cron maths for the governor. An expression has 5 fields (minute hour day-of-month month
// day-of-week) or 6 with a leading seconds field, which is how cron-parser reads them; the
// `@daily`-style aliases are accepted too. Hash fields (`H`) are refused: cron-parser fills
// them from a seed, and a plan must follow from its inputs alone.
//
// Times follow the endpoint's IANA zone, by the rules of Temporal's `compatible`
// disambiguation: on a spring-forward day a wall-clock time that does not exist (02:30 in
// Berlin) runs once, as the instant it denotes in the offset before the change (03:30); on a
// fall-back day a time inside the repeated period runs once, at its first occurrence. An
// expression for every hour follows elapsed time, as cron's wildcard jobs do: its times in a
// gap do not run, those in a repeated period run in both copies.
//
// cron-parser does the field matching on the wall clock (in UTC, where no clock changes), and
// this file maps wall-clock times to instants one span of constant offset at a time, finding
// the changes with Intl. cron-parser's own zone handling sees a change only while it steps
// through one and assumes an hour's shift at 02:00-03:00: it lost or repeated runs near a
// change, and in zones whose clocks change at midnight (Havana), by 30 minutes (Lord Howe),
// at 02:45 (Chatham) or by two hours (Troll) it planned wrong times or none.

//////////////////////////////////////// Validation

const ALIAS = /^@(yearly|annually|monthly|weekly|daily|hourly|minutely|secondly|weekdays|weekends)$/i;
const HASH_FIELD = /\bH\b/i;
// Any fixed instant does: parsing must not read the clock.
const PARSE_REFERENCE = new Date(Date.UTC(2000, 0, 1));
/** The last instant a `Date` holds (+275760-09-13). */
export const MAX_INSTANT = 8.64e15;
/**
 * Longer than any clock change, and so than the time it takes to pass its effects: 2 h today,
 * but Samoa (Pacific/Apia) and Tokelau skipped a whole day in 2011, Kwajalein in 1993.
 */
const DST_LOOKBACK_MS = 25 * 60 * 60_000;
/** How far apart the offset is sampled when looking for a change: no zone changes twice a day. */
const OFFSET_SAMPLE_MS = 24 * 60 * 60_000;

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

/** The expression as cron-parser reads it: trimmed, an alias in lower case (`@Daily`). */
function parserForm(expression: string): string {
  const trimmed = expression.trim();
  return ALIAS.test(trimmed) ? trimmed.toLowerCase() : trimmed;
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

/** The fire times strictly after `after`, one per call. */
function fireTimesAfter(expression: string, timezone: string, after: Date): () => Date {
  if (!(Math.abs(after.getTime()) <= MAX_INSTANT)) throw noFireTime(expression, after);
  // The spans start before `after`, so that a recent change is seen: its moved runs may still
  // lie ahead, and the times it repeats must not run again.
  const lookback = Math.max(after.getTime() - DST_LOOKBACK_MS, -MAX_INSTANT);
  const times = zonedFireTimes(parserForm(expression), timezone, lookback, after.getTime());
  return () => {
    for (;;) {
      const { value } = times.next();
      if (value === undefined) throw noFireTime(expression, after);
      if (value > after.getTime()) return new Date(value);
    }
  };
}

/**
 * Fire times after `from`, in order: span by span of constant offset, the wall-clock times
 * the expression matches; unless it names every hour, less the second copies of repeated
 * times and merged with the times a spring-forward skipped, moved past the gap. Wall-clock
 * times of a span up to `after` are not listed (those of the spans before it only up to the
 * change that ends them): from a lookback, a frequent expression would list hours of them.
 */
function* zonedFireTimes(
  expression: string,
  timezone: string,
  from: number,
  after: number,
): Generator<number, undefined> {
  const everyHour = wallClock(expression, 0).fields.hour.values.length === 24;
  let spanStart = from;
  let offset = utcOffsetMs(timezone, spanStart);
  // The span's wall-clock times are searched from `searchFrom`; none lies in (`passed`, `wall`).
  let searchFrom = Math.max(from, after) + offset;
  let passed = searchFrom;
  let skippedTimes: number[] = [];
  let repeatedUntil = Number.NEGATIVE_INFINITY;
  for (;;) {
    const walls = wallTimesAfter(expression, searchFrom);
    let checkedUpTo = spanStart;
    let change: number | null = null;
    let wall = walls();
    for (; wall !== null; passed = wall, wall = walls()) {
      const time = wall - offset;
      change = firstOffsetChange(timezone, offset, checkedUpTo, Math.min(time, MAX_INSTANT));
      if (change !== null || time > MAX_INSTANT) break;
      checkedUpTo = time;
      while (skippedTimes.length > 0 && skippedTimes[0] <= time) {
        const skippedTime = skippedTimes.shift() as number;
        if (skippedTime < time) yield skippedTime;
      }
      if (wall >= repeatedUntil || everyHour) yield time;
    }
    yield* skippedTimes;
    if (change === null) return undefined;
    const newOffset = utcOffsetMs(timezone, change);
    // Spring forward: the wall-clock times in [change + offset, change + newOffset) never show.
    skippedTimes = [];
    if (!everyHour) {
      const skipped = wallTimesAfter(expression, change + offset - 1, change + newOffset - 1);
      for (let skippedWall = skipped(); skippedWall !== null; skippedWall = skipped())
        skippedTimes.push(skippedWall - offset);
    }
    // Fall back: those in [change + newOffset, change + offset) show a second time.
    repeatedUntil = change + offset;
    const wallAfter = Math.max(change + newOffset - 1, after + newOffset);
    // The next span goes on from `wall` rather than search again (years, for a rare expression)
    // when the times that skips, those in (wallAfter, passed], are not wanted: there are none,
    // or they are second copies of repeated times.
    const unwanted = passed <= wallAfter || (!everyHour && passed < repeatedUntil);
    searchFrom = wall !== null && unwanted ? Math.max(wallAfter, wall - 1) : wallAfter;
    passed = wall !== null && unwanted ? Math.max(wallAfter, passed) : wallAfter;
    spanStart = change;
    offset = newOffset;
  }
}

function wallClock(expression: string, at: number, until?: number) {
  return CronExpressionParser.parse(expression, {
    currentDate: new Date(at),
    endDate: until === undefined ? undefined : new Date(until),
    tz: 'UTC',
  });
}

/**
 * The wall-clock times (as UTC milliseconds) the expression matches after `wallAfter` (up to
 * `until`), then null at the end of its range.
 */
function wallTimesAfter(expression: string, wallAfter: number, until?: number): () => number | null {
  let iterator: ReturnType<typeof wallClock>;
  try {
    // From a whole second: from a fraction cron-parser may skip a week of a weekly expression.
    iterator = wallClock(expression, Math.floor(wallAfter / 1000) * 1000, until);
  } catch {
    // A wall clock outside the range of a date (an instant near either end, in a far-off zone).
    return () => null;
  }
  return () => {
    for (;;) {
      let wall: number;
      try {
        wall = iterator.next().getTime();
      } catch {
        // cron-parser's own limits: the end of the date range, or its loop limit.
        return null;
      }
      if (wall > wallAfter) return wall;
    }
  };
}

/** The first instant in (`from`, `until`] at which the zone's offset is no longer `offset`, or null. */
function firstOffsetChange(timezone: string, offset: number, from: number, until: number): number | null {
  for (let low = from; low < until;) {
    let high = Math.min(until, low + OFFSET_SAMPLE_MS);
    if (utcOffsetMs(timezone, high) !== offset) {
      while (high - low > 1) {
        const middle = low + Math.floor((high - low) / 2);
        if (utcOffsetMs(timezone, middle) === offset) low = middle;
        else high = middle;
      }
      return high;
    }
    low = high;
  }
  return null;
}

const noFireTime = (expression: string, after: Date) =>
  invalid('SCHEDULE.NO_FIRE_TIME', `no fire time of "${expression}" after ${String(after.getTime())} ms`, {
    cron: 'no fire time within the range of a date',
  });

const offsetFormats = new Map<string, Intl.DateTimeFormat>();

/** The zone's offset from UTC at `at`, in milliseconds. */
function utcOffsetMs(timezone: string, at: number): number {
  let format = offsetFormats.get(timezone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', { timeZone: timezone, timeZoneName: 'longOffset' });
    offsetFormats.set(timezone, format);
  }
  const name = format.formatToParts(at).find((part) => part.type === 'timeZoneName')?.value ?? 'GMT';
  const match = /^GMT([+-])(\d\d):(\d\d)(?::(\d\d))?$/.exec(name);
  if (!match) return 0;
  const [, sign, hours, minutes, seconds = '0'] = match;
  return (sign === '-' ? -1 : 1) * ((Number(hours) * 60 + Number(minutes)) * 60 + Number(seconds)) * 1000;
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
  const parsed = parserForm(expression);
  try {
    // cronstrue knows only some aliases (not `@weekdays`): it is given what they stand for.
    const fields = ALIAS.test(parsed) ? wallClock(parsed, PARSE_REFERENCE.getTime()).stringify(true) : parsed;
    return cronstrue.toString(fields, {
      use24HourTimeFormat: true,
      throwExceptionOnParseError: true,
    });
  } catch {
    return null;
  }
}
