import { DomainError } from '../core/errors';
import {
  cronTimesBetween,
  describeCron,
  isValidCron,
  nextCronTimes,
  validateCron,
  validateTimezone,
} from './cron';

const times = (expression: string, timezone: string, after: string, count: number) =>
  nextCronTimes(expression, timezone, new Date(after), count).map((date) => date.toISOString());

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

  describe('When an expression is described', () => {
    it('should say it in words, 24-hour clock', () => {
      expect(describeCron('0 9 * * 1-5')).toBe('At 09:00, Monday through Friday');
      expect(describeCron('*/10 * * * * *')).toBe('Every 10 seconds');
    });

    it('should return null for an invalid expression', () => {
      expect(describeCron('* * *')).toBeNull();
    });
  });
});
