import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import type { Response } from 'express';
import { map, Observable } from 'rxjs';

export const POSITION_HEADER = 'x-position';

/**
 * What a command controller returns: status, body and headers. The answer interceptor writes
 * the status and headers; the idempotency interceptor stores all three for a replay.
 */
export class CommandAnswer<T extends object = object> {
  constructor(
    readonly status: 201 | 202,
    readonly body: T,
    readonly headers: Readonly<Record<string, string>>,
  ) {}
}

/** `{ id, <kind>Id, position }`: the body of every command answer (DESIGN §6). */
export type CommandBody<K extends string, Extra extends object = object> = {
  id: string;
  position: string | null;
} & Record<`${K}Id`, string> &
  Extra;

function answer<K extends string, Extra extends object>(
  status: 201 | 202,
  kind: K,
  id: string,
  position: string | null,
  extra?: Extra,
): CommandAnswer<CommandBody<K, Extra>> {
  const body = { id, [`${kind}Id`]: id, position, ...extra } as CommandBody<K, Extra>;
  return new CommandAnswer(status, body, position === null ? {} : { [POSITION_HEADER]: position });
}

/**
 * 201 for a command that created `kind` `id`: `{ id, <kind>Id: id, position, ...extra }` and
 * the `x-position` header. `position` is the global position of the last event appended.
 */
export const created = <K extends string, Extra extends object = object>(
  kind: K,
  id: string,
  position: string | null,
  extra?: Extra,
) => answer(201, kind, id, position, extra);

/** 202 for any other command; `position` is null when the command changed nothing. */
export const accepted = <K extends string, Extra extends object = object>(
  kind: K,
  id: string,
  position: string | null,
  extra?: Extra,
) => answer(202, kind, id, position, extra);

/** Writes a CommandAnswer's status and headers onto the response and returns its body. */
export function applyAnswer(value: unknown, res: Response): unknown {
  if (!(value instanceof CommandAnswer)) return value;
  res.status(value.status);
  for (const [name, header] of Object.entries(value.headers)) res.setHeader(name, header);
  return value.body;
}

/** Unwraps CommandAnswer results (global). */
@Injectable()
export class CommandAnswerInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const res = context.switchToHttp().getResponse<Response>();
    return next.handle().pipe(map((value) => applyAnswer(value, res)));
  }
}
