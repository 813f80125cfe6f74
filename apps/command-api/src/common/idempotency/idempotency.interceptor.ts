import { createHash, hkdfSync } from 'node:crypto';
import {
  CallHandler,
  ExecutionContext,
  Injectable,
  Logger,
  NestInterceptor,
  OnModuleDestroy,
  OnModuleInit,
  Inject,
} from '@nestjs/common';
import { PG_POOL, pgErrorCode, PgErrorCode, SecretBox } from '@cronicorn/platform';
import type { Request, Response } from 'express';
import type { Pool, PoolClient } from 'pg';
import { from, lastValueFrom, Observable } from 'rxjs';
import { AUTH_REQUEST_PROPERTY } from '../../auth/auth-context';
import type { AuthenticatedRequest } from '../../auth/api-key.guard';
import { ApiError, ErrorCodes } from '../api-error';
import { applyAnswer, POSITION_HEADER } from '../responses';
import { TransactionContext } from '../transaction-context';

export const IDEMPOTENCY_HEADER = 'idempotency-key';
export const REPLAYED_HEADER = 'Idempotency-Replayed';
/** How long an answer is kept for replay (Stripe keeps 24 h as well). */
export const IDEMPOTENCY_RETENTION_HOURS = 24;
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
const REPLAYED_HEADERS = [POSITION_HEADER, 'location'];

interface StoredRow {
  request_hash: string;
  status_code: number;
  response: string;
}

interface StoredAnswer {
  body: unknown;
  headers: Record<string, string>;
}

/**
 * The stored answer may hold a new API key (POST /v1/tenants, /v1/api-keys), so it is
 * encrypted under a key derived from the Idempotency-Key, and the row only keeps a hash of
 * that key: the database alone cannot give the answer back, only a caller holding the key.
 */
function answerBox(scope: string, idempotencyKey: string): SecretBox {
  return new SecretBox(
    Buffer.from(hkdfSync('sha256', idempotencyKey, scope, 'cronicorn/idempotency-answer/v1', 32)),
  );
}

const keyHashOf = (idempotencyKey: string) =>
  createHash('sha256').update(`cronicorn/idempotency-key/v1\n${idempotencyKey}`).digest('hex');

/** The request's fingerprint: a retry must send the same method, path and body. */
export function requestHash(method: string, path: string, body: unknown): string {
  return createHash('sha256')
    .update(`${method} ${path}\n${canonicalJson(body ?? null)}`)
    .digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * `Idempotency-Key` on POST (DESIGN §6): the handler runs inside one transaction (ambient for
 * the executor) that also stores the answer in `idempotency_keys`, so the events and the
 * stored answer commit together: a retry replays the answer, and nothing is written twice.
 * A transaction-scoped advisory lock on (scope, key) makes a concurrent duplicate fail fast
 * with 409 instead of waiting on the first one's row lock. Errors are not stored: a failed
 * request wrote nothing, and its retry runs again.
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor, OnModuleInit, OnModuleDestroy {
  private readonly log = new Logger('Idempotency');
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    private readonly transactions: TransactionContext,
    @Inject(PG_POOL) private readonly pool: Pool,
  ) {}

  onModuleInit(): void {
    this.sweeper = setInterval(() => void this.sweep(), 10 * 60_000);
    this.sweeper.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.sweeper);
  }

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const req = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const res = context.switchToHttp().getResponse<Response>();
    const header = req.headers[IDEMPOTENCY_HEADER];
    const key = Array.isArray(header) ? header[0] : header;
    const auth = req[AUTH_REQUEST_PROPERTY];
    if (req.method !== 'POST' || key === undefined || !auth) return next.handle();
    if (!KEY_PATTERN.test(key)) {
      throw new ApiError(
        400,
        ErrorCodes.idempotencyKeyInvalid,
        'Idempotency-Key must be 1-255 visible ASCII characters',
        {
          'Idempotency-Key': 'must be 1-255 visible ASCII characters',
        },
      );
    }
    const scope = auth.tenantId ?? 'admin';
    return from(this.handle(scope, key, req, res, next));
  }

  private handle(
    scope: string,
    key: string,
    req: Request,
    res: Response,
    next: CallHandler,
  ): Promise<unknown> {
    const hash = requestHash(req.method, req.path, req.body);
    const keyHash = keyHashOf(key);
    return this.transactions
      .begin(async (client) => {
        const { rows: locked } = await client.query<{ locked: boolean }>(
          'SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0)) AS locked',
          [`${scope}:${keyHash}`],
        );
        if (!locked[0].locked) throw inProgress();
        await client.query(
          `DELETE FROM idempotency_keys
            WHERE scope = $1 AND key_hash = $2 AND created_at <= now() - make_interval(hours => $3)`,
          [scope, keyHash, IDEMPOTENCY_RETENTION_HOURS],
        );
        const stored = await this.find(client, scope, keyHash);
        if (stored) return this.replay(stored, hash, answerBox(scope, key), res);
        const body = applyAnswer(await lastValueFrom(next.handle(), { defaultValue: undefined }), res);
        const headers = Object.fromEntries(
          REPLAYED_HEADERS.flatMap((name) => {
            const value = res.getHeader(name);
            return value === undefined ? [] : [[name, String(value)]];
          }),
        );
        const answer: StoredAnswer = { body: body ?? null, headers };
        await client.query(
          `INSERT INTO idempotency_keys (scope, key_hash, request_hash, status_code, response)
           VALUES ($1, $2, $3, $4, $5)`,
          [scope, keyHash, hash, res.statusCode, answerBox(scope, key).encrypt(JSON.stringify(answer))],
        );
        return body;
      })
      .catch((error: unknown) => {
        // The advisory lock is on a hash; the primary key is the real guard.
        if (pgErrorCode(error) === PgErrorCode.uniqueViolation) throw inProgress();
        throw error;
      });
  }

  private async find(client: PoolClient, scope: string, keyHash: string): Promise<StoredRow | null> {
    const { rows } = await client.query<StoredRow>(
      'SELECT request_hash, status_code, response FROM idempotency_keys WHERE scope = $1 AND key_hash = $2',
      [scope, keyHash],
    );
    return rows[0] ?? null;
  }

  private replay(stored: StoredRow, hash: string, box: SecretBox, res: Response): unknown {
    if (stored.request_hash !== hash) {
      throw new ApiError(
        422,
        ErrorCodes.idempotencyKeyReused,
        'This Idempotency-Key was used with another request; use a new key',
      );
    }
    const answer = JSON.parse(box.decrypt(stored.response)) as StoredAnswer;
    res.status(stored.status_code);
    for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value);
    res.setHeader(REPLAYED_HEADER, 'true');
    return answer.body;
  }

  private async sweep(): Promise<void> {
    try {
      await this.pool.query(
        'DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(hours => $1)',
        [IDEMPOTENCY_RETENTION_HOURS],
      );
    } catch (error) {
      this.log.warn(
        `sweeping old idempotency keys failed: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
}

const inProgress = () =>
  new ApiError(
    409,
    ErrorCodes.idempotencyInProgress,
    'A request with this Idempotency-Key is still in progress',
  );
