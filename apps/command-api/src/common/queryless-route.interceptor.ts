import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import type { Observable } from 'rxjs';
import { AUTH_MODE } from '../auth/api-key.guard';
import { declaresParam } from './bodiless-command.interceptor';
import { unknownFieldsError } from './validation';

/**
 * Unknown query parameters are refused (DESIGN §6) on API routes that take none too: the
 * ValidationPipe only sees a query a handler declares, so `POST /v1/jobs?dryRun=true` would
 * otherwise create the job, and `GET /v1/api-keys?limit=1` would list them all. Health and
 * metrics routes (no API key) are left alone for probes and scrapers.
 */
@Injectable()
export class QuerylessRouteInterceptor implements NestInterceptor {
  constructor(private readonly reflector: Reflector) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (
      context.getType() === 'http' &&
      this.isApiRoute(context) &&
      !declaresParam(context, RouteParamtypes.QUERY)
    ) {
      const unwanted = Object.keys(context.switchToHttp().getRequest<Request>().query ?? {});
      if (unwanted.length > 0) throw unknownFieldsError(unwanted);
    }
    return next.handle();
  }

  private isApiRoute(context: ExecutionContext): boolean {
    return (
      this.reflector.getAllAndOverride(AUTH_MODE, [context.getHandler(), context.getClass()]) !== undefined
    );
  }
}
