import { invalid } from '../core/errors';
import { validateTimezone } from './cron';

/**
 * A schedule for people who do not write cron: `{ every: 'week', at: '09:30', on: 'mon',
 * timezone: 'Europe/Berlin' }`. It is stored as the equivalent cron, with the preset kept
 * beside it so both forms can be shown.
 */
export interface SchedulePreset {
  every: 'day' | 'week' | 'month';
  /** Local wall-clock time, `HH:MM` (24 h). */
  at: string;
  /** `week`: a day name (`mon`…`sun`); `month`: a day of the month, 1–31 (months without it are skipped, as in cron). */
  on?: string | number;
  timezone: string;
}

const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const AT = /^([01]\d|2[0-3]):([0-5]\d)$/;

/** Why the preset is not usable, per field (`schedule.at`, …), or an empty object. */
export function presetErrors(preset: SchedulePreset): Record<string, string> {
  const errors: Record<string, string> = {};
  if (!['day', 'week', 'month'].includes(preset.every))
    errors['schedule.every'] = 'must be day, week or month';
  if (typeof preset.at !== 'string' || !AT.test(preset.at))
    errors['schedule.at'] = 'must be a time of day, HH:MM';
  const zone = validateTimezone(preset.timezone);
  if (zone) errors['schedule.timezone'] = zone;
  if (preset.every === 'day' && preset.on !== undefined)
    errors['schedule.on'] = 'is not used with every: day';
  if (
    preset.every === 'week' &&
    !(typeof preset.on === 'string' && WEEKDAYS.includes(preset.on.toLowerCase()))
  ) {
    errors['schedule.on'] = 'must be a day name: mon, tue, wed, thu, fri, sat or sun';
  }
  if (
    preset.every === 'month' &&
    !(Number.isInteger(preset.on) && Number(preset.on) >= 1 && Number(preset.on) <= 31)
  ) {
    errors['schedule.on'] = 'must be a day of the month, 1 to 31';
  }
  return errors;
}

/** The cron expression equivalent to a valid preset; throws a field error otherwise. */
export function presetToCron(preset: SchedulePreset): string {
  const errors = presetErrors(preset);
  if (Object.keys(errors).length > 0)
    throw invalid('SCHEDULE.INVALID_PRESET', 'The schedule preset is not valid', errors);
  const [, hour, minute] = AT.exec(preset.at) as RegExpExecArray;
  const time = `${Number(minute)} ${Number(hour)}`;
  switch (preset.every) {
    case 'day':
      return `${time} * * *`;
    case 'week':
      return `${time} * * ${WEEKDAYS.indexOf(String(preset.on).toLowerCase())}`;
    case 'month':
      return `${time} ${Number(preset.on)} * *`;
  }
}
