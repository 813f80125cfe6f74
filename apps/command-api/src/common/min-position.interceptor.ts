import {
  CallHandler,
  ExecutionContext,
  Inject,
  Injectable,
  NestInterceptor,
  SetMetadata,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { EventStore } from '@cronicorn/event-store';
import { EVENT_STORE } from '@cronicorn/platform';
import type { Request, Response } from 'express';
import { from, Observable, switchMap } from 'rxjs';
import { badInput } from './api-error';
import { API_OPTIONS, ApiOptions } from './api-options';
import { isEventPosition, isLogStart, NOT_A_POSITION } from './event-position';
import { waitForLogPosition } from './log-catch-up';

export const MIN_POSITION_HEADER = 'x-min-position';
export const LAGGING_HEADER = 'x-read-model-lagging';

/**
 * Waits until the read models have applied the event at `position`, at most `timeoutMs`;
 * true when they have.
 */
export type ReadModelCatchUp = (position: string, timeoutMs: number) => Promise<boolean>;
export const READ_MODEL_CATCH_UP = Symbol('READ_MODEL_CATCH_UP');

/**
 * Where a GET route reads from, which decides what `x-min-position` waits for:
 * - `read-models` (default): the projector's tables; waits for the projector.
 * - `event-log`: the event store's commit-safe log (`readAll`); waits until the event is
 *   below the log's horizon.
 * - `inline`: tables written in the command's own transaction (`api_keys`), a stream read
 *   directly, or no data at all; nothing to wait for.
 */
export type ReadSource = 'read-models' | 'event-log' | 'inline';
export const READ_SOURCE = 'cronicorn:read-source';
export const ReadsFrom = (source: ReadSource) => SetMetadata(READ_SOURCE, source);

/**
 * `x-min-position: <n>` on a GET waits (bounded) until the route's source (see `ReadsFrom`)
 * includes the event at position `n`, so a client reads its own write. On timeout it answers with what is there and says so in
 * `x-read-model-lagging: true`, rather than failing a read that is merely stale.
 */
@Injectable()
export class MinPositionInterceptor implements NestInterceptor {
  constructor(
    @Inject(READ_MODEL_CATCH_UP) private readonly catchUp: ReadModelCatchUp,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(API_OPTIONS) private readonly options: ApiOptions,
    private readonly reflector: Reflector,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const req = context.switchToHttp().getRequest<Request>();
    const header = req.headers[MIN_POSITION_HEADER];
    const position = Array.isArray(header) ? header[0] : header;
    if (req.method !== 'GET' || position === undefined) return next.handle();
    if (!isEventPosition(position)) throw badInput({ [MIN_POSITION_HEADER]: NOT_A_POSITION });
    const source =
      this.reflector.getAllAndOverride<ReadSource | undefined>(READ_SOURCE, [
        context.getHandler(),
        context.getClass(),
      ]) ?? 'read-models';
    if (source === 'inline' || isLogStart(position)) return next.handle();
    const timeoutMs = this.options.minPositionTimeoutMs;
    const wait =
      source === 'event-log'
        ? waitForLogPosition(this.store, position, timeoutMs)
        : this.catchUp(position, timeoutMs);
    const res = context.switchToHttp().getResponse<Response>();
    return from(wait).pipe(
      switchMap((caughtUp) => {
        if (!caughtUp) res.setHeader(LAGGING_HEADER, 'true');
        return next.handle();
      }),
    );
  }
}
