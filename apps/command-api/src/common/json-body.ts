import type { NextFunction, Request, Response } from 'express';
import { ApiError, ErrorCodes } from './api-error';

/**
 * Bodies the API parses as JSON: `application/json`, and `text/plain` (what `fetch` sends for
 * a string body) or none at all: left unread, a plain-text pause would run without its `until`.
 */
export function readsAsJson(req: Request): boolean {
  return (
    req.headers['content-type'] === undefined ||
    req.is('application/json') === 'application/json' ||
    req.is('text/plain') === 'text/plain'
  );
}

/**
 * Express middleware to mount after the body parser: any other body (a form, XML) is a 415,
 * rather than ignored.
 */
export function jsonBodiesOnly(req: Request, _res: Response, next: NextFunction): void {
  const hasBody =
    req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
  next(
    hasBody && !readsAsJson(req)
      ? new ApiError(
          415,
          ErrorCodes.unsupportedMediaType,
          'Send the body as JSON, with Content-Type: application/json',
        )
      : undefined,
  );
}
