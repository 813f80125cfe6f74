import { ENDPOINT_LIMITS } from '@cronicorn/domain';

/** Limits of the REST layer, on top of the domain's (`ENDPOINT_LIMITS`, `JOB_LIMITS`). */
export const REQUEST_LIMITS = {
  /** Plain or secret headers per endpoint. */
  maxHeaders: 50,
  /** Names plus values of one header map, UTF-8 bytes. */
  maxHeaderBytes: 16 * 1024,
  /** The endpoint's request body, serialised as JSON. */
  maxBodyBytes: 64 * 1024,
  /** Jitter is a spread, not a delay: a day is plenty. */
  maxJitterMs: 24 * 3_600_000,
  defaultPageSize: 50,
  maxPageSize: 100,
  maxCursorLength: 512,
} as const;

export const MAX_PAUSE_REASON_LENGTH = ENDPOINT_LIMITS.maxReasonLength;
