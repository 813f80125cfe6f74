import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import { correlationIdOf } from '@cronicorn/platform';
import type { Request } from 'express';

/** Parameter: the request's correlation id (`x-correlation-id`, or the one pino-http made). */
export const CorrelationId = createParamDecorator((_data: unknown, ctx: ExecutionContext): string =>
  correlationIdOf(ctx.switchToHttp().getRequest<Request>()),
);
