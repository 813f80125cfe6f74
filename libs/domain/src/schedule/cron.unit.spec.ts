import { CronExpressionParser } from 'cron-parser';
import { DomainError } from '../core/errors';
import {
  MAX_INSTANT,
  cronTimesBetween,
  describeCron,
  isValidCron,
  nextCronTimes,
  validateCron,
  validateTimezone,
} from './cron';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

const offsetFormats = new Map<string, Intl.DateTimeFormat>();
const offsetFormat = (zone: string) => {
  const format =
    offsetFormats.get(zone) ??
    new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' });
  offsetFormats.set(zone, format);
  return format;
};

function offsetOf(zone: string, at: number): number {
  const name = offsetFormat(zone)
    .formatToParts(at)
    .find((part) => part.type === 'timeZoneName')?.value;
  const [, sign, hours, minutes] = /^GMT(?:([+-])(\d\d):(\d\d))?$/.exec(name ?? '') ?? [];
  return sign ? (sign === '-' ? -1 : 1) * (Number(hours) * HOUR + Number(minutes) * MINUTE) : 0;
}

/** The instants in [from, to) at which the zone's offset changes, to the minute. */
function offsetChanges(zone: string, from: number, to: number): number[] {
  const changes: number[] = [];
  for (let at = from; at + HOUR <= to; at += HOUR) {
    if (offsetOf(zone, at) === offsetOf(zone, at + HOUR)) continue;
    let minute = at;
    while (offsetOf(zone, minute) === offsetOf(zone, at)) minute += MINUTE;
    changes.push(minute);
  }
  return changes;
}

/**
 * The reference: every minute of (from, to], read on the zone's wall clock. A matching wall
 * time runs when it shows first (again too, for an expression naming every hour); one a
 * spring-forward skips runs at the instant it denotes in the offset before the change, unless
 * the expression names every hour.
 */
function walkWallClock(expression: string, zone: string, from: number, to: number): number[] {
  const cron = CronExpressionParser.parse(expression, { tz: 'UTC', currentDate: new Date(0) });
  const everyHour = cron.fields.hour.values.length === 24;
  const matches = (wall: number) => cron.includesDate(new Date(wall));
  const times = new Set<number>();
  let previous: { wall: number; offset: number } | null = null;
  let latestWall = Number.NEGATIVE_INFINITY;
  for (let at = from - 4 * HOUR; at <= to; at += MINUTE) {
    const offset = offsetOf(zone, at);
    const wall = at + offset;
    if (previous && !everyHour)
      for (let skipped = previous.wall + MINUTE; skipped < wall; skipped += MINUTE)
        if (matches(skipped)) times.add(skipped - previous.offset);
    if (matches(wall) && (wall > latestWall || everyHour)) times.add(at);
    latestWall = Math.max(latestWall, wall);
    previous = { wall, offset };
  }
  return [...times].filter((time) => time > from && time <= to).sort((a, b) => a - b);
}

const times = (expression: string, timezone: string, after: string, count: number) =>
  nextCronTimes(expression, timezone, new Date(after), count).map((date) => date.toISOString());

/** Each time cron-parser is asked for its next time while `run` runs: where from, what it found. */
function cronParserSteps(run: () => unknown): { from: number; found: number | null }[] {
  const steps: { from: number; found: number | null }[] = [];
  const parse = CronExpressionParser.parse.bind(CronExpressionParser);
  const spy = jest.spyOn(CronExpressionParser, 'parse').mockImplementation((expression, options) => {
    const cron = parse(expression, options);
    const next = cron.next.bind(cron);
    cron.next = () => {
      const start = options?.currentDate;
      const from =
        typeof start === 'string' || typeof start === 'number' ? new Date(start).getTime() : start?.getTime();
      const step = { from: from ?? 0, found: null as number | null };
      steps.push(step);
      const date = next();
      step.found = date.getTime();
      return date;
    };
    return cron;
  });
  try {
    run();
  } finally {
    spy.mockRestore();
  }
  return steps;
}

describe('Cron', () => {
  describe('When an expression is validated', () => {
    it.each([
      ['0 9 * * *', '5 fields'],
      ['*/15 9-17 * * 1-5', 'ranges and steps'],
      ['30 0 9 * * MON-FRI', '6 fields, seconds first'],
      ['0 9 * * thu', 'a day name containing an H'],
      ['@daily', 'an alias'],
    ])('should accept %s (%s)', (expression) => {
      expect(validateCron(expression)).toBeNull();
      expect(isValidCron(expression)).toBe(true);
    });

    it.each([
      ['', 'must be a cron expression'],
      ['* * *', 'expected 5 fields'],
      ['0 0 9 * * * 2025', 'expected 5 fields'],
      ['H 9 * * *', 'hash fields'],
      ['61 * * * *', 'Constraint error'],
      ['0 0 30 2 *', 'Invalid explicit day of month'],
      ['hello world how are you', 'Invalid characters'],
    ])('should refuse %j', (expression, message) => {
      expect(validateCron(expression)).toContain(message);
      expect(isValidCron(expression)).toBe(false);
    });
  });

  describe('When a time zone is validated', () => {
    it.each(['UTC', 'Europe/Berlin', 'America/New_York', 'Etc/GMT+5'])('should accept %s', (zone) => {
      expect(validateTimezone(zone)).toBeNull();
    });

    it.each(['', 'Mars/Olympus', '+01:00'])('should refuse %j', (zone) => {
      expect(validateTimezone(zone)).not.toBeNull();
    });
  });

  describe('When the next times are computed', () => {
    it('should return times strictly after the reference', () => {
      expect(times('0 9 * * *', 'UTC', '2025-06-02T09:00:00.000Z', 2)).toEqual([
        '2025-06-03T09:00:00.000Z',
        '2025-06-04T09:00:00.000Z',
      ]);
      expect(times('0 9 * * *', 'UTC', '2025-06-02T08:59:59.999Z', 1)).toEqual(['2025-06-02T09:00:00.000Z']);
    });

    it('should read a 6-field expression with seconds first', () => {
      expect(times('*/20 * * * * *', 'UTC', '2025-06-02T09:00:00.000Z', 3)).toEqual([
        '2025-06-02T09:00:20.000Z',
        '2025-06-02T09:00:40.000Z',
        '2025-06-02T09:01:00.000Z',
      ]);
    });

    it('should read an alias in any case, as validation accepts it', () => {
      expect(validateCron('@Weekdays')).toBeNull();
      expect(times('@DAILY', 'Europe/Berlin', '2025-06-02T00:00:00.000Z', 2)).toEqual([
        '2025-06-02T22:00:00.000Z',
        '2025-06-03T22:00:00.000Z',
      ]);
      expect(times('@Weekdays', 'UTC', '2025-06-06T12:00:00.000Z', 1)).toEqual(['2025-06-09T00:00:00.000Z']);
      expect(
        cronTimesBetween(
          '@Hourly',
          'UTC',
          new Date('2025-06-02T00:00:00Z'),
          new Date('2025-06-02T02:00:00Z'),
          5,
        ),
      ).toEqual([new Date('2025-06-02T01:00:00Z'), new Date('2025-06-02T02:00:00Z')]);
    });

    it('should compute in the given zone', () => {
      expect(times('0 9 * * *', 'America/New_York', '2025-06-02T00:00:00.000Z', 1)).toEqual([
        '2025-06-02T13:00:00.000Z',
      ]);
    });

    it('should throw a domain error for an invalid expression or zone', () => {
      expect(() => nextCronTimes('* * *', 'UTC', new Date('2025-06-02T00:00:00Z'), 1)).toThrow(DomainError);
      expect(() => nextCronTimes('0 9 * * *', 'Mars/Olympus', new Date('2025-06-02T00:00:00Z'), 1)).toThrow(
        expect.objectContaining({ code: 'SCHEDULE.INVALID_TIMEZONE' }),
      );
    });

    it('should list the times of a window, bounded', () => {
      const window = cronTimesBetween(
        '0 * * * *',
        'UTC',
        new Date('2025-06-02T09:00:00Z'),
        new Date('2025-06-02T12:00:00Z'),
        10,
      );
      expect(window.map((date) => date.toISOString())).toEqual([
        '2025-06-02T10:00:00.000Z',
        '2025-06-02T11:00:00.000Z',
        '2025-06-02T12:00:00.000Z',
      ]);
      expect(
        cronTimesBetween(
          '* * * * *',
          'UTC',
          new Date('2025-06-02T09:00:00Z'),
          new Date('2025-06-03T09:00:00Z'),
          5,
        ),
      ).toHaveLength(5);
    });
  });

  describe('When the clocks spring forward', () => {
    it('should run a 02:30 Berlin job once, at 03:30 CEST, on 30 March 2025', () => {
      expect(times('30 2 * * *', 'Europe/Berlin', '2025-03-29T12:00:00.000Z', 3)).toEqual([
        '2025-03-30T01:30:00.000Z',
        '2025-03-31T00:30:00.000Z',
        '2025-04-01T00:30:00.000Z',
      ]);
    });

    it('should run a 02:30 New York job once, at 03:30 EDT, on 9 March 2025', () => {
      expect(times('30 2 * * *', 'America/New_York', '2025-03-08T12:00:00.000Z', 2)).toEqual([
        '2025-03-09T07:30:00.000Z',
        '2025-03-10T06:30:00.000Z',
      ]);
    });

    it.each([
      ['Europe/Berlin', '2025-03-30T01:00:00.000Z', '2025-03-30T01:30:00.000Z', '2025-03-31T00:30:00.000Z'],
      ['Europe/Berlin', '2025-03-30T01:29:59.999Z', '2025-03-30T01:30:00.000Z', '2025-03-31T00:30:00.000Z'],
      [
        'America/New_York',
        '2025-03-09T07:10:00.000Z',
        '2025-03-09T07:30:00.000Z',
        '2025-03-10T06:30:00.000Z',
      ],
    ])(
      'should still find the moved 02:30 run in %s from inside the landing hour (after %s)',
      (zone, after, ...expected) => {
        expect(times('30 2 * * *', zone, after, 2)).toEqual(expected);
      },
    );
  });

  describe('When the clocks fall back', () => {
    it('should run a 01:30 New York job once on 2 November 2025', () => {
      expect(times('30 1 * * *', 'America/New_York', '2025-11-01T12:00:00.000Z', 2)).toEqual([
        '2025-11-02T05:30:00.000Z',
        '2025-11-03T06:30:00.000Z',
      ]);
    });

    it('should run a 02:30 Berlin job once on 26 October 2025', () => {
      expect(times('30 2 * * *', 'Europe/Berlin', '2025-10-25T12:00:00.000Z', 2)).toEqual([
        '2025-10-26T00:30:00.000Z',
        '2025-10-27T01:30:00.000Z',
      ]);
    });

    it.each([
      ['30 2 * * *', 'Europe/Berlin', '2025-10-26T01:00:00.000Z', '2025-10-27T01:30:00.000Z'],
      ['30 2 * * *', 'Europe/Berlin', '2025-10-26T01:15:00.000Z', '2025-10-27T01:30:00.000Z'],
      ['30 1 * * *', 'America/New_York', '2025-11-02T06:10:00.000Z', '2025-11-03T06:30:00.000Z'],
    ])(
      'should not run %s in %s again from inside the repeated hour (after %s)',
      (expression, zone, after, expected) => {
        expect(times(expression, zone, after, 1)).toEqual([expected]);
      },
    );

    it.each([
      ['0 2 * * 6', 'Australia/Sydney', '2025-04-05T15:59:59.999Z', '2025-04-11T16:00:00.000Z'],
      ['0 2 * * 6', 'Europe/Berlin', '2025-10-26T00:59:59.999Z', '2025-11-01T01:00:00.000Z'],
    ])(
      'should not skip a week of %s in %s from the last millisecond before the change (after %s)',
      (expression, zone, after, expected) => {
        expect(times(expression, zone, after, 1)).toEqual([expected]);
      },
    );

    it('should fire a sub-hourly job in the rest of the repeated hour from inside it', () => {
      expect(times('*/30 * * * *', 'America/New_York', '2025-11-02T06:10:00.000Z', 2)).toEqual([
        '2025-11-02T06:30:00.000Z',
        '2025-11-02T07:00:00.000Z',
      ]);
    });

    it('should fire a sub-hourly job in both copies of the repeated hour', () => {
      expect(times('*/30 * * * *', 'America/New_York', '2025-11-02T04:45:00.000Z', 5)).toEqual([
        '2025-11-02T05:00:00.000Z',
        '2025-11-02T05:30:00.000Z',
        '2025-11-02T06:00:00.000Z',
        '2025-11-02T06:30:00.000Z',
        '2025-11-02T07:00:00.000Z',
      ]);
    });
  });

  describe('When the zone changes its clocks at midnight, by 30 minutes, at 02:45 or by two hours', () => {
    it.each([
      // Havana springs forward at midnight: 00:30 does not exist on 8 March 2026.
      [
        '30 0 * * *',
        'America/Havana',
        '2026-03-07T12:00:00Z',
        '2026-03-08T05:30:00.000Z',
        '2026-03-09T04:30:00.000Z',
      ],
      // ... and falls back from 01:00 to midnight on 1 November: 00:30 runs once, the first time.
      [
        '30 0 * * *',
        'America/Havana',
        '2026-10-31T12:00:00Z',
        '2026-11-01T04:30:00.000Z',
        '2026-11-02T05:30:00.000Z',
      ],
      // Lord Howe moves 02:00 to 02:30 on 4 October 2026: 02:15 runs at 02:45.
      [
        '15 2 * * *',
        'Australia/Lord_Howe',
        '2026-10-03T00:00:00Z',
        '2026-10-03T15:45:00.000Z',
        '2026-10-04T15:15:00.000Z',
      ],
      [
        '45 1 * * *',
        'Australia/Lord_Howe',
        '2026-04-04T00:00:00Z',
        '2026-04-04T14:45:00.000Z',
        '2026-04-05T15:15:00.000Z',
      ],
      // Chatham (+12:45) moves 02:45 to 03:45 on 27 September 2026: 03:00 runs at 04:00.
      [
        '0 3 * * *',
        'Pacific/Chatham',
        '2026-09-26T00:00:00Z',
        '2026-09-26T14:15:00.000Z',
        '2026-09-27T13:15:00.000Z',
      ],
      [
        '0 3 * * *',
        'Pacific/Chatham',
        '2026-04-04T00:00:00Z',
        '2026-04-04T13:15:00.000Z',
        '2026-04-05T14:15:00.000Z',
      ],
      // Troll moves 01:00 to 03:00 on 29 March 2026: 02:30 runs at 04:30.
      [
        '30 2 * * *',
        'Antarctica/Troll',
        '2026-03-28T12:00:00Z',
        '2026-03-29T02:30:00.000Z',
        '2026-03-30T00:30:00.000Z',
      ],
      [
        '30 1 * * *',
        'Antarctica/Troll',
        '2026-10-24T12:00:00Z',
        '2026-10-24T23:30:00.000Z',
        '2026-10-26T01:30:00.000Z',
      ],
      // An expression for every hour follows elapsed time: no 02:00 run moved to 02:30.
      [
        '0 * * * *',
        'Australia/Lord_Howe',
        '2026-10-03T14:10:00Z',
        '2026-10-03T14:30:00.000Z',
        '2026-10-03T16:00:00.000Z',
      ],
    ])('should plan %s in %s after %s by the same rules', (expression, zone, after, ...expected) => {
      expect(times(expression, zone, after, 2)).toEqual(expected);
    });

    // Every clock change of 2026 in these zones, from before it, at it and from inside it,
    // against a minute-by-minute walk of the zone's wall clock.
    const zones = [
      'Europe/Berlin',
      'America/New_York',
      'Australia/Sydney',
      'America/Havana',
      'Australia/Lord_Howe',
      'Pacific/Chatham',
      'Antarctica/Troll',
      'Africa/Casablanca',
    ];
    const expressions = [
      '30 2 * * *',
      '0 0 * * *',
      '45 1 * * 0',
      '15,45 1-3 * * *',
      '*/20 * * * *',
      '0 * * * *',
    ];
    it.each(zones)('should agree with a walk of the wall clock around every change of 2026 in %s', (zone) => {
      for (const change of offsetChanges(zone, Date.UTC(2026, 0, 1), Date.UTC(2027, 0, 1))) {
        for (const expression of expressions) {
          const window = { from: change - 5 * HOUR, to: change + 8 * HOUR };
          const walked = walkWallClock(expression, zone, window.from, window.to);
          for (const start of [
            -5 * HOUR,
            -HOUR,
            -1,
            0,
            1,
            10 * MINUTE,
            59 * MINUTE,
            90 * MINUTE,
            150 * MINUTE,
          ]) {
            const after = change + start;
            const planned = cronTimesBetween(expression, zone, new Date(after), new Date(window.to), 1_000);
            expect({
              expression,
              after: new Date(after),
              times: planned.map((time) => time.getTime()),
            }).toEqual({
              expression,
              after: new Date(after),
              times: walked.filter((time) => time > after),
            });
          }
        }
      }
    });
  });

  describe('When a change lies close before the reference, or the next time far ahead', () => {
    // Samoa skipped Friday 30 December 2011 (UTC-10 to UTC+14 at 10:00Z): its 09:00 runs at
    // the instant 09:00 denotes at UTC-10, 19:00Z, from a plan made at any time before then.
    it.each(['2011-12-30T09:59:59.999Z', '2011-12-30T13:01:00.000Z', '2011-12-30T18:59:59.999Z'])(
      'should run the 09:00 of a day a 24-hour spring-forward skipped (Apia, after %s)',
      (after) => {
        expect(times('0 9 * * 5', 'Pacific/Apia', after, 2)).toEqual([
          '2011-12-30T19:00:00.000Z',
          '2012-01-05T19:00:00.000Z',
        ]);
      },
    );

    it('should not walk the hours before the reference of an every-second expression just after a change', () => {
      const after = new Date('2026-10-25T01:01:00.000Z');
      let planned: Date[] = [];
      const steps = cronParserSteps(
        () => (planned = nextCronTimes('* * * * * *', 'Europe/Berlin', after, 2)),
      );
      expect(planned.map((date) => date.toISOString())).toEqual([
        '2026-10-25T01:01:01.000Z',
        '2026-10-25T01:01:02.000Z',
      ]);
      expect(steps.length).toBeLessThan(20);
    });

    it('should search once, not once per clock change, for a time decades ahead', () => {
      const after = new Date('2017-01-01T00:00:00.000Z');
      let planned: Date[] = [];
      const steps = cronParserSteps(
        () => (planned = nextCronTimes('0 0 * 2 1#5', 'Europe/Berlin', after, 1)),
      );
      // The fifth Monday of a February: 29 February 2044.
      expect(planned.map((date) => date.toISOString())).toEqual(['2044-02-28T23:00:00.000Z']);
      const farSearches = steps.filter(({ from, found }) => found !== null && found - from > 366 * 24 * HOUR);
      // One to validate the expression, one to plan.
      expect(farSearches.length).toBeLessThanOrEqual(2);
    });

    it.each([
      ['0 9 * * *', 'Pacific/Kiritimati', MAX_INSTANT - 3 * HOUR - 1],
      ['0 9 * * *', 'America/New_York', -MAX_INSTANT + 3 * HOUR],
    ])(
      'should throw a domain error when the wall clock of %j in %s leaves the range of a date',
      (expression, zone, after) => {
        expect(() => nextCronTimes(expression, zone, new Date(after), 1)).toThrow(
          expect.objectContaining({ code: 'SCHEDULE.NO_FIRE_TIME' }),
        );
      },
    );
  });

  describe('When an expression is described', () => {
    it('should say it in words, 24-hour clock', () => {
      expect(describeCron('0 9 * * 1-5')).toBe('At 09:00, Monday through Friday');
      expect(describeCron('*/10 * * * * *')).toBe('Every 10 seconds');
    });

    it('should say an alias in words too, whatever its case', () => {
      expect(describeCron('@weekdays')).toBe('At 00:00, Monday through Friday');
      expect(describeCron('@Weekends')).toBe('At 00:00, only on Sunday and Saturday');
      expect(describeCron('@MINUTELY')).toBe('Every minute');
      expect(describeCron(' @daily ')).toBe('At 00:00');
    });

    it('should return null for an invalid expression', () => {
      expect(describeCron('* * *')).toBeNull();
    });
  });
});
