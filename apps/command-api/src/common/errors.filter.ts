import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { DomainError } from '@cronicorn/domain';
import { ConcurrencyError } from '@cronicorn/event-store';
import type { NextFunction, Request, Response } from 'express';
import { ApiError, badInput, ErrorBody, ErrorCodes } from './api-error';
import { isDependencyUnavailable } from './unavailable';

const DOMAIN_STATUS = { invalid: 400, not_found: 404, conflict: 409 } as const;

/** body-parser's errors carry `type` and a 4xx `status`; a parse failure also the raw `body`. */
interface BodyParserError extends Error {
  type: string;
  status: number;
  body?: unknown;
}

/** A body-parser failure, re-thrown so Nest does not flatten it into a plain 400. */
export class RequestBodyError extends Error {
  constructor(readonly bodyError: BodyParserError) {
    super(bodyError.message);
    this.name = 'RequestBodyError';
  }
}

const isBodyParserError = (error: unknown): error is BodyParserError =>
  error instanceof Error &&
  typeof (error as Partial<BodyParserError>).type === 'string' &&
  typeof (error as Partial<BodyParserError>).status === 'number';

/**
 * Express error middleware to mount right after the body parsers: Nest turns body-parser's
 * SyntaxError into an anonymous 400, which would lose the BAD_JSON code.
 */
export function bodyParserErrors(error: unknown, _req: Request, _res: Response, next: NextFunction): void {
  next(isBodyParserError(error) ? new RequestBodyError(error) : error);
}

interface Rendered {
  status: number;
  body: ErrorBody;
  headers?: Record<string, string>;
}

function bodyError(error: BodyParserError): Rendered {
  if (error.type === 'entity.parse.failed') {
    // The parser is strict: `null`, `42` or `"x"` are JSON, refused for not being an object.
    const message = isJson(error.body) ? 'The body must be a JSON object' : 'The body is not valid JSON';
    return { status: 400, body: { error: ErrorCodes.badJson, message } };
  }
  if (error.status === 413) {
    return {
      status: 413,
      body: { error: ErrorCodes.payloadTooLarge, message: 'The request body is too large' },
    };
  }
  const status = error.status >= 400 && error.status < 500 ? error.status : 400;
  return { status, body: { error: 'BAD_REQUEST_BODY', message: error.message } };
}

function isJson(text: unknown): boolean {
  if (typeof text !== 'string') return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** Express's router's message when a path segment is not valid percent-encoding (`%E0%A4%A`). */
const UNDECODABLE_PARAM = /^Failed to decode param /;

interface RouterLayer {
  route?: { path?: unknown; methods?: Record<string, boolean> };
}

const decodes = (segment: string) => {
  try {
    decodeURIComponent(segment);
    return true;
  } catch {
    return false;
  }
};

/**
 * The route parameters of the request's path that do not percent-decode. The router fails
 * before it knows the route, and its message holds the value only: the request's route is
 * found again by its segments (`/v1/jobs/:id`), literal ones equal and as many.
 */
function undecodableParams(req: Request): string[] {
  const segments = req.path.split('/');
  const stack = (req.app as unknown as { router?: { stack?: RouterLayer[] } }).router?.stack ?? [];
  for (const { route } of stack) {
    if (typeof route?.path !== 'string' || !route.methods?.[req.method.toLowerCase()]) continue;
    const template = route.path.split('/');
    if (template.length !== segments.length) continue;
    const literalsMatch = template.every((part, i) => part.startsWith(':') || part === segments[i]);
    const names = template
      .filter((part, i) => part.startsWith(':') && !decodes(segments[i]))
      .map((part) => part.slice(1));
    if (literalsMatch && names.length > 0) return names;
  }
  return [];
}

function httpCode(status: number): string {
  if (status === 404) return ErrorCodes.notFound;
  if (status === 401) return ErrorCodes.unauthorized;
  if (status === 413) return ErrorCodes.payloadTooLarge;
  return status >= 500 ? ErrorCodes.internal : 'BAD_REQUEST';
}

/**
 * The one exception filter (STYLE §6): every error leaves as `{ error, message, fields? }`.
 * A user's mistake is a 4xx, a missing dependency a 503, and only a bug is a 500 (logged).
 */
@Catch()
export class ErrorsFilter implements ExceptionFilter {
  private readonly log = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    if (res.headersSent) return;
    const { status, body, headers } = this.render(exception, host.switchToHttp().getRequest<Request>());
    for (const [name, value] of Object.entries(headers ?? {})) res.setHeader(name, value);
    res.status(status).json(body);
  }

  render(exception: unknown, req?: Request): Rendered {
    if (req && exception instanceof HttpException && UNDECODABLE_PARAM.test(exception.message)) {
      const names = undecodableParams(req);
      if (names.length > 0) {
        return this.render(
          badInput(Object.fromEntries(names.map((name) => [name, 'is not valid percent-encoding']))),
        );
      }
    }
    if (exception instanceof ApiError) {
      const body: ErrorBody = { error: exception.code, message: exception.message };
      if (exception.fields) body.fields = exception.fields;
      return { status: exception.status, body, headers: exception.headers };
    }
    if (exception instanceof DomainError) {
      const body: ErrorBody = { error: exception.code, message: exception.message };
      if (exception.fields) body.fields = exception.fields;
      return { status: DOMAIN_STATUS[exception.kind], body };
    }
    if (exception instanceof ConcurrencyError) {
      return {
        status: 409,
        body: {
          error: ErrorCodes.concurrency,
          message: 'The resource changed concurrently; retry the request',
        },
      };
    }
    if (exception instanceof RequestBodyError) return bodyError(exception.bodyError);
    if (isBodyParserError(exception)) return bodyError(exception);
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      if (status >= 500) this.log.error(exception.stack ?? exception.message);
      const response = exception.getResponse();
      const message =
        typeof response === 'object' && response !== null && 'message' in response
          ? String((response as { message: unknown }).message)
          : exception.message;
      return { status, body: { error: httpCode(status), message } };
    }
    if (isDependencyUnavailable(exception)) {
      this.log.warn(
        `dependency unavailable: ${exception instanceof Error ? exception.message : String(exception)}`,
      );
      return {
        status: 503,
        body: {
          error: ErrorCodes.unavailable,
          message: 'A backing service (Postgres or NATS) is unavailable; retry later',
        },
        headers: { 'Retry-After': '1' },
      };
    }
    this.log.error(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception));
    return { status: 500, body: { error: ErrorCodes.internal, message: 'Internal error' } };
  }
}
