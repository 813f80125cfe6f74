import { ValidationOptions, registerDecorator } from 'class-validator';

const DIGITS = /^\d{1,19}$/;
const MAX_POSITION = 9_223_372_036_854_775_807n;

export const NOT_A_POSITION = 'must be an event position (digits, at most 9223372036854775807)';

/**
 * A global position as the client may send it: digits that fit Postgres's bigint. Nineteen
 * digits alone are not enough: `9999999999999999999` would reach the database and fail there.
 */
export function isEventPosition(value: unknown): value is string {
  return typeof value === 'string' && DIGITS.test(value) && BigInt(value) <= MAX_POSITION;
}

/** Position `0` is before every event: read from the start of the log, not after an event. */
export const isLogStart = (position: string): boolean => /^0+$/.test(position);

export const IsEventPosition =
  (validationOptions?: ValidationOptions) => (target: object, propertyName: string) =>
    registerDecorator({
      name: 'isEventPosition',
      target: target.constructor,
      propertyName,
      options: { message: `${propertyName} ${NOT_A_POSITION}`, ...validationOptions },
      validator: { validate: (value: unknown) => isEventPosition(value) },
    });
