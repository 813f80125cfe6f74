import { Transform } from 'class-transformer';
import {
  isISO8601,
  registerDecorator,
  ValidateIf,
  ValidationArguments,
  ValidationOptions,
} from 'class-validator';

// Request checks shared by the job, endpoint and run DTOs. They refuse malformed input at the
// edge with field names; the deciders then check the rules that depend on state.

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
// C0/C1 controls except tab and newlines (free text may span lines), and the BOM-like
// non-characters that break JSON consumers downstream.
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\uFFFE\uFFFF]/;
// Whitespace and invisible format characters (zero-width space/joiners, bidi marks, BOM).
const INVISIBLE = /^[\s\p{Cf}\p{Zs}\u115F\u1160\u3164\uFFA0]*$/u;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const FORBIDDEN_HEADER_VALUE = /[\u0000-\u0008\u000A-\u001F\u007F]/;

/** Only for fields that may be set to null (to clear them): skip the checks for undefined and null. */
export const ValidateUnlessAbsent = () => ValidateIf((_object: object, value: unknown) => value != null);

/** Skip the checks only when the field is left out; an explicit null is refused by them. */
export const ValidateIfPresent = () => ValidateIf((_object: object, value: unknown) => value !== undefined);

/**
 * A query parameter read as a whole number: decimal digits only. `Number()` would also take
 * `0x10`, `1e2` or ` 7`; anything else stays a string for `@IsInt()` to refuse.
 */
const WHOLE_NUMBER = /^\d{1,15}$/;
export const QueryInt = () =>
  Transform(
    ({ value }: { value: unknown }) =>
      typeof value === 'string' && WHOLE_NUMBER.test(value) ? Number(value) : value,
    {
      toClassOnly: true,
    },
  );

/**
 * Keeps the raw JSON value of a free-form field (request body, header maps): class-transformer
 * would otherwise rebuild nested objects and could drop keys such as `__proto__`.
 */
export const KeepRaw = () =>
  Transform(({ obj, key }: { obj: Record<string, unknown>; key: string }) => obj[key], { toClassOnly: true });

/** Why a text is not clean, or null. */
export function textProblem(value: string, single: boolean): string | null {
  if (LONE_SURROGATE.test(value)) return 'must be valid Unicode (a lone surrogate was found)';
  if (CONTROL.test(value) || (single && /[\r\n\t]/.test(value))) return 'must not contain control characters';
  return null;
}

export interface CleanTextOptions {
  /** Refuse newlines and tabs (names); default true. */
  singleLine?: boolean;
  /** Refuse texts made only of spaces and invisible characters; default true. */
  visible?: boolean;
}

/**
 * A property decorator from a `problem` function (null when the value is fine); the message is
 * `<property> <problem>`, so the error names the field and says what is wrong.
 */
function checkedBy(name: string, problem: (value: unknown) => string | null, options?: ValidationOptions) {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name,
      target: target.constructor,
      propertyName,
      options,
      validator: {
        validate: (value: unknown) => problem(value) === null,
        defaultMessage: (args?: ValidationArguments) =>
          `${args?.property ?? propertyName} ${problem(args?.value) ?? 'is not valid'}`,
      },
    });
}

/**
 * A string that is well-formed Unicode, without control characters, and (by default) one line
 * with at least one visible character: `"\u200B"` is not a name.
 */
export function IsCleanText(options: CleanTextOptions = {}, validationOptions?: ValidationOptions) {
  const singleLine = options.singleLine ?? true;
  const visible = options.visible ?? true;
  return checkedBy(
    'isCleanText',
    (value) => {
      if (typeof value !== 'string') return 'must be a string';
      if (visible && INVISIBLE.test(value)) return 'must contain a visible character';
      return textProblem(value, singleLine);
    },
    validationOptions,
  );
}

/** An ISO 8601 instant with an offset (`2025-03-01T09:00:00Z`, `…+01:00`), a real calendar date. */
export function isIsoInstant(value: unknown): value is string {
  return (
    typeof value === 'string' &&
    ISO_INSTANT.test(value) &&
    isISO8601(value, { strict: true }) &&
    !Number.isNaN(Date.parse(value))
  );
}

export const IsIsoInstant = (validationOptions?: ValidationOptions) =>
  checkedBy(
    'isIsoInstant',
    (value) =>
      isIsoInstant(value) ? null : 'must be an ISO 8601 instant with an offset, e.g. 2025-03-01T09:00:00Z',
    validationOptions,
  );

export interface HeaderMapLimits {
  maxEntries: number;
  /** Sum of name and value lengths, in UTF-8 bytes. */
  maxBytes: number;
}

/** Why `value` is not a map of HTTP header names to single-line string values, or null. */
export function headerMapProblem(value: unknown, limits: HeaderMapLimits): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return 'must be an object of header names to string values';
  }
  const entries = Object.entries(value);
  if (entries.length > limits.maxEntries) return `must have at most ${limits.maxEntries} headers`;
  let bytes = 0;
  const seen = new Set<string>();
  for (const [name, headerValue] of entries) {
    if (!HEADER_NAME.test(name) || name.length > 256)
      return `"${printable(name)}" is not a valid header name`;
    if (seen.has(name.toLowerCase())) return `"${name}" is given twice`;
    seen.add(name.toLowerCase());
    if (typeof headerValue !== 'string') return `"${name}" must have a string value`;
    if (FORBIDDEN_HEADER_VALUE.test(headerValue) || LONE_SURROGATE.test(headerValue)) {
      return `"${name}" must be a single line without control characters`;
    }
    bytes += Buffer.byteLength(name) + Buffer.byteLength(headerValue);
  }
  return bytes > limits.maxBytes ? `must be at most ${limits.maxBytes} bytes in total` : null;
}

export const IsHeaderMap = (limits: HeaderMapLimits, validationOptions?: ValidationOptions) =>
  checkedBy('isHeaderMap', (value) => headerMapProblem(value, limits), validationOptions);

/**
 * Why `value` is not JSON of at most `maxBytes` (serialised, UTF-8), or null. Strings must be
 * storable in Postgres jsonb, which refuses NUL characters and lone surrogates.
 */
export function jsonProblem(value: unknown, maxBytes: number): string | null {
  const text = JSON.stringify(value);
  if (text === undefined) return 'must be JSON';
  if (Buffer.byteLength(text) > maxBytes) return `must be at most ${maxBytes} bytes as JSON`;
  return jsonTextProblem(value, 0);
}

/** Nesting allowed in a free-form JSON field (request body, trigger payload). */
export const MAX_JSON_DEPTH = 32;

function jsonTextProblem(value: unknown, depth: number): string | null {
  if (typeof value === 'string') {
    if (LONE_SURROGATE.test(value)) return 'must be valid Unicode (a lone surrogate was found)';
    return value.includes('\u0000') ? 'must not contain NUL characters' : null;
  }
  if (typeof value !== 'object' || value === null) return null;
  if (depth >= MAX_JSON_DEPTH) return `must not nest deeper than ${MAX_JSON_DEPTH} levels`;
  const children = Array.isArray(value) ? value : [...Object.keys(value), ...Object.values(value)];
  for (const child of children) {
    const problem = jsonTextProblem(child, depth + 1);
    if (problem) return problem;
  }
  return null;
}

/** Any JSON value (object, array, string, number, boolean, null) up to `maxBytes`. */
export const IsJsonWithin = (maxBytes: number, validationOptions?: ValidationOptions) =>
  checkedBy('isJsonWithin', (value) => jsonProblem(value, maxBytes), validationOptions);

function printable(text: string): string {
  const shown = text.length > 40 ? `${text.slice(0, 40)}…` : text;
  return shown.replace(/[^\x20-\x7E]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
