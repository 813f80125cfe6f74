import { ValidationError, ValidationPipe } from '@nestjs/common';
import { ApiError, ErrorCodes } from './api-error';

export const NOT_ACCEPTED = 'is not an accepted field';

/**
 * Flattens class-validator errors to `path → message`, e.g. `schedule.cron`; a field left out
 * is told it is required. Of a field's failed
 * rules the one written first in the DTO is told (decorators apply bottom-up, so it is the
 * last constraint): the type check, so that `"abc"` is "must be an integer number", not "must
 * not be greater than …". class-validator adds its own "nested property" check after them: it
 * is told only alone.
 */
export function fieldErrors(errors: readonly ValidationError[], parent = ''): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const error of errors) {
    const path = parent ? `${parent}.${error.property}` : error.property;
    const constraints = error.constraints ?? {};
    if (constraints.whitelistValidation) {
      fields[path] = NOT_ACCEPTED;
    } else {
      const { nestedValidation, ...rules } = constraints;
      let told = Object.values(rules).at(-1) ?? nestedValidation;
      if (told?.startsWith(`${error.property} `)) told = told.slice(error.property.length + 1);
      // A field left out fails its type rule: say so first ("is required: must be a string").
      if (told && 'value' in error && error.value === undefined) told = `is required: ${told}`;
      if (told) fields[path] = told;
    }
    Object.assign(fields, fieldErrors(error.children ?? [], path));
  }
  return fields;
}

export function validationError(errors: readonly ValidationError[]): ApiError {
  return fieldsError(fieldErrors(errors));
}

/** 400 with `path → message`, saying first which fields are unknown. */
export function fieldsError(fields: Record<string, string>): ApiError {
  const unknown = Object.entries(fields)
    .filter(([, message]) => message === NOT_ACCEPTED)
    .map(([path]) => path);
  const message = unknown.length
    ? `Unknown field(s): ${unknown.join(', ')}`
    : `Invalid input: ${Object.keys(fields).join(', ')}`;
  return new ApiError(400, ErrorCodes.validation, message, fields);
}

/** 400 naming fields the request may not carry. */
export function unknownFieldsError(paths: readonly string[]): ApiError {
  return fieldsError(Object.fromEntries(paths.map((path) => [path, NOT_ACCEPTED])));
}

/** Global pipe: unknown fields rejected, DTOs transformed, errors with `fields` (DESIGN §6). */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    validationError: { target: false, value: true },
    exceptionFactory: (errors) => validationError(errors),
  });
}
