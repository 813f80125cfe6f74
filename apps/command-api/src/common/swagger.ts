import { applyDecorators } from '@nestjs/common';
import {
  ApiConflictResponse,
  ApiHeader,
  ApiPayloadTooLargeResponse,
  ApiServiceUnavailableResponse,
  ApiUnprocessableEntityResponse,
  ApiUnsupportedMediaTypeResponse,
} from '@nestjs/swagger';
import { ErrorResponseDto } from './error-response.dto';
import { MIN_POSITION_HEADER } from './min-position.interceptor';

/** Documents `Idempotency-Key` and its error answers on a POST route. */
export const IdempotencyKeyHeader = () =>
  applyDecorators(
    ApiHeader({
      name: 'Idempotency-Key',
      required: false,
      description:
        'Retry safely: a repeat with the same key returns the first answer (24 h), writing nothing',
    }),
    ApiUnprocessableEntityResponse({
      type: ErrorResponseDto,
      description: 'Key reused with another request',
    }),
    ApiConflictResponse({
      type: ErrorResponseDto,
      description: 'Conflict, or the same key is still in progress',
    }),
    ApiPayloadTooLargeResponse({ type: ErrorResponseDto }),
    ApiUnsupportedMediaTypeResponse({
      type: ErrorResponseDto,
      description: 'A body that is not application/json',
    }),
    ApiServiceUnavailableResponse({ type: ErrorResponseDto, description: 'Postgres or NATS unavailable' }),
  );

/** Documents `x-min-position` on a GET route. */
export const MinPositionHeader = () =>
  applyDecorators(
    ApiHeader({
      name: MIN_POSITION_HEADER,
      required: false,
      description:
        'Wait (up to API_MIN_POSITION_TIMEOUT_MS, 5 s by default) until the read models include this event position; x-read-model-lagging: true if not',
    }),
    ApiServiceUnavailableResponse({ type: ErrorResponseDto, description: 'Postgres or NATS unavailable' }),
  );
