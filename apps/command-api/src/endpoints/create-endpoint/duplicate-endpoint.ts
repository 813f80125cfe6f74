import { ArgumentsHost, Catch, ExceptionFilter } from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';
import { jsonEqual, normalizeInstants } from '@cronicorn/domain';
import type { EndpointConfig, EndpointSchedule } from '@cronicorn/events';
import type { Queryable } from '@cronicorn/read-models';
import type { Response } from 'express';
import { ErrorResponseDto } from '../../common/error-response.dto';

// Duplicate-schedule detection: the same request on the same schedule twice in one job is
// almost always a client that retried without an Idempotency-Key. It is a check on the read
// model (eventually consistent), a guard against mistakes rather than an invariant.

export const DUPLICATE_CODE = 'ENDPOINT.DUPLICATE';

/** The fields that make two endpoints the same job: method, URL, body and schedule. */
type Compared = Pick<EndpointConfig, 'method' | 'url' | 'body' | 'schedule'>;

/** A cron schedule made from a preset runs the same as the bare cron: compare what runs. */
function runningSchedule(schedule: EndpointSchedule): EndpointSchedule {
  if (schedule.kind !== 'cron') return schedule;
  return { kind: 'cron', cron: schedule.cron, timezone: schedule.timezone };
}

export function sameEndpoint(a: Compared, b: Compared): boolean {
  return (
    a.method === b.method &&
    a.url === b.url &&
    jsonEqual(a.body, b.body) &&
    jsonEqual(runningSchedule(a.schedule), runningSchedule(b.schedule))
  );
}

/** The id of an active endpoint of the job identical to `config`, or null. */
export async function findDuplicateEndpoint(
  db: Queryable,
  tenantId: string,
  jobId: string,
  config: EndpointConfig,
  now: Date,
): Promise<string | null> {
  const { rows } = await db.query<{ endpoint_id: string; config: Compared }>(
    `SELECT endpoint_id, config FROM rm_endpoints
      WHERE tenant_id = $1 AND job_id = $2 AND created_at IS NOT NULL
        AND (status = 'active' OR (status = 'paused' AND paused_until IS NOT NULL AND paused_until <= $3))
        AND config ->> 'url' = $4 AND config ->> 'method' = $5
      ORDER BY created_at, endpoint_id`,
    [tenantId, jobId, now, config.url, config.method],
  );
  const wanted = normalizeInstants(config);
  return rows.find((row) => sameEndpoint(row.config, wanted))?.endpoint_id ?? null;
}

/** 409: an identical active endpoint exists; the answer names it in `existingId`. */
export class DuplicateEndpointError extends Error {
  constructor(readonly existingId: string) {
    super(
      `Endpoint ${existingId} of this job already sends this request on this schedule; pass allowDuplicate: true to create another`,
    );
    this.name = 'DuplicateEndpointError';
  }
}

/** The 409 body: `error` is `ENDPOINT.DUPLICATE`. */
export class DuplicateEndpointResponseDto extends ErrorResponseDto {
  @ApiProperty({
    format: 'uuid',
    description: 'The identical active endpoint',
    example: '6f1d2c3b-8a9e-4b7c-9d0e-1f2a3b4c5d6e',
  })
  existingId!: string;
}

/** Renders {@link DuplicateEndpointError}; the body is the error shape plus `existingId`. */
@Catch(DuplicateEndpointError)
export class DuplicateEndpointFilter implements ExceptionFilter<DuplicateEndpointError> {
  catch(error: DuplicateEndpointError, host: ArgumentsHost): void {
    const body: DuplicateEndpointResponseDto = {
      error: DUPLICATE_CODE,
      message: error.message,
      existingId: error.existingId,
    };
    host.switchToHttp().getResponse<Response>().status(409).json(body);
  }
}
