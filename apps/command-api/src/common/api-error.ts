/**
 * An error that already knows its HTTP answer: raised by the adapters of command-api (auth,
 * rate limit, idempotency, validation), never by libs. The one exception filter renders it as
 * `{ error: code, message, fields? }`, plus `headers`.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields?: Record<string, string>,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The JSON body of every error answer. */
export interface ErrorBody {
  error: string;
  message: string;
  fields?: Record<string, string>;
}

export const ErrorCodes = {
  validation: 'VALIDATION_FAILED',
  badJson: 'BAD_JSON',
  payloadTooLarge: 'PAYLOAD_TOO_LARGE',
  unsupportedMediaType: 'UNSUPPORTED_MEDIA_TYPE',
  unauthorized: 'AUTH.UNAUTHORIZED',
  rateLimited: 'RATE_LIMITED',
  tooManyStreams: 'TOO_MANY_STREAMS',
  unavailable: 'SERVICE_UNAVAILABLE',
  concurrency: 'CONCURRENCY_CONFLICT',
  notFound: 'NOT_FOUND',
  internal: 'INTERNAL',
  idempotencyKeyReused: 'IDEMPOTENCY.KEY_REUSED',
  idempotencyInProgress: 'IDEMPOTENCY.IN_PROGRESS',
  idempotencyKeyInvalid: 'IDEMPOTENCY.KEY_INVALID',
} as const;

export const unauthorized = (message = 'A valid x-api-key header is required') =>
  new ApiError(401, ErrorCodes.unauthorized, message);

export const unavailable = (message: string) => new ApiError(503, ErrorCodes.unavailable, message);

/** 400 with field errors, for query or path input checked outside the ValidationPipe. */
export const badInput = (fields: Record<string, string>) =>
  new ApiError(400, ErrorCodes.validation, `Invalid input: ${Object.keys(fields).join(', ')}`, fields);
