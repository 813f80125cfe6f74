import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import type { Request } from 'express';
import type { Observable } from 'rxjs';
import { unknownFieldsError } from './validation';

/**
 * Unknown fields are refused (DESIGN §6) on commands that take no body too (trigger, resume,
 * retry, …): the ValidationPipe only sees bodies a handler declares, so a field sent to one of
 * those would otherwise be dropped without a word.
 */
@Injectable()
export class BodilessCommandInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() === 'http') {
      const { method, body } = context.switchToHttp().getRequest<Request>();
      if (COMMANDS.has(method) && !takesBody(context)) {
        const unwanted = Array.isArray(body)
          ? ['body']
          : body && typeof body === 'object'
            ? Object.keys(body)
            : [];
        if (unwanted.length > 0) throw unknownFieldsError(unwanted);
      }
    }
    return next.handle();
  }
}

const COMMANDS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Whether the route's handler has a parameter of this kind (`@Body()`, `@Query()`, …). */
export function declaresParam(context: ExecutionContext, type: RouteParamtypes): boolean {
  const args: Record<string, unknown> =
    Reflect.getMetadata(ROUTE_ARGS_METADATA, context.getClass(), context.getHandler().name) ?? {};
  return Object.keys(args).some((key) => key.startsWith(`${type}:`));
}

const takesBody = (context: ExecutionContext) => declaresParam(context, RouteParamtypes.BODY);
