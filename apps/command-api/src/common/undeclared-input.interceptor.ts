import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import type { Observable } from 'rxjs';
import { AUTH_MODE } from '../auth/api-key.guard';
import { ApiError, ErrorCodes } from './api-error';
import { inputShapeProblems } from './input-shape';
import { fieldsError, unknownFieldsError } from './validation';

const COMMANDS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Unknown fields are refused (DESIGN §6) where the ValidationPipe cannot see them: it only
 * checks a body or query the handler declares. So a field sent to a command that takes no
 * body (trigger, resume, retry, …) or a query parameter sent to an API route that takes none
 * (`POST /v1/jobs?dryRun=true` would create the job) would otherwise be dropped without a
 * word. Health and metrics routes (no API key) are left alone for probes and scrapers.
 * Declared input is checked for what the pipe would drop or choke on (`inputShapeProblems`).
 */
@Injectable()
export class UndeclaredInputInterceptor implements NestInterceptor {
  constructor(private readonly reflector: Reflector) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() === 'http') {
      const { method, body, query } = context.switchToHttp().getRequest<Request>();
      const takesBody = declares(context, RouteParamtypes.BODY);
      if (COMMANDS.has(method) && !takesBody) {
        const unwanted = Array.isArray(body) ? ['body'] : isObject(body) ? Object.keys(body) : [];
        if (unwanted.length > 0) throw unknownFieldsError(unwanted);
      }
      if (takesBody && Array.isArray(body)) {
        throw new ApiError(400, ErrorCodes.badJson, 'The body must be a JSON object');
      }
      if (takesBody && isObject(body)) assertShape(body);
      const takesQuery = declares(context, RouteParamtypes.QUERY);
      if (this.isApiRoute(context) && !takesQuery) {
        const unwanted = Object.keys(query ?? {});
        if (unwanted.length > 0) throw unknownFieldsError(unwanted);
      }
      if (takesQuery && isObject(query)) assertShape(query);
    }
    return next.handle();
  }

  private isApiRoute(context: ExecutionContext): boolean {
    return (
      this.reflector.getAllAndOverride(AUTH_MODE, [context.getHandler(), context.getClass()]) !== undefined
    );
  }
}

/** Whether the route's handler has a parameter of this kind (`@Body()`, `@Query()`, …). */
function declares(context: ExecutionContext, type: RouteParamtypes): boolean {
  const args: Record<string, unknown> =
    Reflect.getMetadata(ROUTE_ARGS_METADATA, context.getClass(), context.getHandler().name) ?? {};
  return Object.keys(args).some((key) => key.startsWith(`${type}:`));
}

const isObject = (value: unknown): value is object => typeof value === 'object' && value !== null;

function assertShape(input: object): void {
  const problems = inputShapeProblems(input);
  if (problems.size > 0) throw fieldsError(Object.fromEntries(problems));
}
