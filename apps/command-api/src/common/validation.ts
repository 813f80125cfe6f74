import { ValidationError, ValidationPipe } from '@nestjs/common';
import { ApiError, ErrorCodes } from './api-error';

/** Flattens class-validator errors to `path → first message`, e.g. `schedule.cron`. */
export function fieldErrors(errors: readonly ValidationError[], parent = ''): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const error of errors) {
    const path = parent ? `${parent}.${error.property}` : error.property;
    const constraints = error.constraints ?? {};
    if (constraints.whitelistValidation) {
      fields[path] = 'is not an accepted field';
    } else {
      const [first] = Object.values(constraints);
      if (first)
        fields[path] = first.startsWith(`${error.property} `)
          ? first.slice(error.property.length + 1)
          : first;
    }
    Object.assign(fields, fieldErrors(error.children ?? [], path));
  }
  return fields;
}

export function validationError(errors: readonly ValidationError[]): ApiError {
  const fields = fieldErrors(errors);
  const unknown = Object.entries(fields)
    .filter(([, message]) => message === 'is not an accepted field')
    .map(([path]) => path);
  const message = unknown.length
    ? `Unknown field(s): ${unknown.join(', ')}`
    : `Invalid input: ${Object.keys(fields).join(', ')}`;
  return new ApiError(400, ErrorCodes.validation, message, fields);
}

/** Global pipe: unknown fields rejected, DTOs transformed, errors with `fields` (DESIGN §6). */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => validationError(errors),
  });
}
