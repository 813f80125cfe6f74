import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Params } from 'nestjs-pino';
import type { AppName } from '../config';

export const CORRELATION_HEADER = 'x-correlation-id';

const QUIET_PATHS = new Set(['/healthz', '/readyz', '/metrics']);
const VALID_CORRELATION_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The request's correlation id: the caller's `x-correlation-id` when it is a sane token,
 * otherwise a new uuid. pino-http stores it as `req.id`.
 */
export function correlationIdOf(req: IncomingMessage): string {
  const existing = (req as IncomingMessage & { id?: unknown }).id;
  if (typeof existing === 'string') return existing;
  const header = req.headers[CORRELATION_HEADER];
  const value = Array.isArray(header) ? header[0] : header;
  return value && VALID_CORRELATION_ID.test(value) ? value : randomUUID();
}

/**
 * pino-http settings shared by every app: JSON lines with the app name and correlation id.
 * Request and response serializers leave headers out entirely, so API keys, authorization
 * and cookies never reach the log; `redact` covers anyone who logs a raw request anyway.
 */
export function loggerParams(app: AppName, level: string): Params {
  return {
    pinoHttp: {
      level,
      base: { app, pid: process.pid },
      messageKey: 'msg',
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers["x-api-key"]',
          'req.headers.cookie',
          'headers.authorization',
          'headers["x-api-key"]',
          'headers.cookie',
        ],
        censor: '[redacted]',
      },
      genReqId: (req: IncomingMessage, res: ServerResponse) => {
        const id = correlationIdOf(req);
        res.setHeader(CORRELATION_HEADER, id);
        return id;
      },
      customAttributeKeys: { reqId: 'correlationId' },
      quietReqLogger: true,
      serializers: {
        req: (req: { id?: unknown; method?: string; url?: string }) => ({ method: req.method, url: req.url }),
        res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
      },
      autoLogging: {
        ignore: (req: IncomingMessage) => QUIET_PATHS.has((req.url ?? '').split('?')[0]),
      },
      customLogLevel: (_req: IncomingMessage, res: ServerResponse, error?: Error) =>
        error || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info',
    },
  };
}
