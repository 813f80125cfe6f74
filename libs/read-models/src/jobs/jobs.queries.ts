import { decodeCursor, Page, PageRequest, pageSize, toPage } from '../pagination';
import { Queryable } from '../projection';
import { iso, statusAt } from '../sql';

export type JobStatusView = 'active' | 'paused' | 'archived';

/** A job as `GET /v1/jobs/:id` shows it. */
export interface JobView {
  id: string;
  tenantId: string;
  name: string;
  description: string | null;
  /** At query time: a pause whose `until` has passed reads as `active`. */
  status: JobStatusView;
  /** The pause in force, when `status` is `paused`. */
  pause: { until: string | null; reason: string | null; pausedAt: string } | null;
  /** Endpoints not archived. */
  endpointCount: number;
  archivedEndpointCount: number;
  createdAt: string;
  updatedAt: string;
  archivedAt: string | null;
}

export interface ListJobsFilter extends PageRequest {
  status?: JobStatusView;
  /** Archived jobs are left out unless asked for here or with `status: 'archived'`. */
  includeArchived?: boolean;
  /** The instant pauses are judged at; default now. */
  now?: Date;
}

interface JobRow {
  job_id: string;
  tenant_id: string;
  name: string;
  description: string | null;
  status: JobStatusView;
  paused_until: Date | null;
  pause_reason: string | null;
  paused_at: Date | null;
  endpoint_count: number;
  archived_endpoint_count: number;
  created_at: Date;
  updated_at: Date;
  archived_at: Date | null;
}

const SELECT = `SELECT j.*, ${statusAt('j', '$2::timestamptz')} AS effective_status FROM rm_jobs j`;

function toView(row: JobRow & { effective_status: JobStatusView }): JobView {
  const paused = row.effective_status === 'paused';
  return {
    id: row.job_id,
    tenantId: row.tenant_id,
    name: row.name,
    description: row.description,
    status: row.effective_status,
    pause: paused
      ? { until: iso(row.paused_until), reason: row.pause_reason, pausedAt: iso(row.paused_at) as string }
      : null,
    endpointCount: row.endpoint_count,
    archivedEndpointCount: row.archived_endpoint_count,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    archivedAt: iso(row.archived_at),
  };
}

/** The tenant's job, archived or not; null for an unknown id or another tenant's. */
export async function getJob(
  db: Queryable,
  tenantId: string,
  jobId: string,
  options: { now?: Date } = {},
): Promise<JobView | null> {
  const { rows } = await db.query<JobRow & { effective_status: JobStatusView }>(
    `${SELECT} WHERE j.tenant_id = $1 AND j.job_id = $3`,
    [tenantId, options.now ?? new Date(), jobId],
  );
  return rows.length ? toView(rows[0]) : null;
}

/** The tenant's jobs, newest first. */
export async function listJobs(
  db: Queryable,
  tenantId: string,
  filter: ListJobsFilter = {},
): Promise<Page<JobView>> {
  const limit = pageSize(filter.limit);
  const after = decodeCursor(filter.cursor);
  const { rows } = await db.query<JobRow & { effective_status: JobStatusView }>(
    `SELECT * FROM (${SELECT} WHERE j.tenant_id = $1) j
      WHERE ($3::text IS NULL OR j.effective_status = $3)
        AND ($4 OR $3::text = 'archived' OR j.status <> 'archived')
        AND ($5::timestamptz IS NULL OR (j.created_at, j.job_id) < ($5::timestamptz, $6::text))
      ORDER BY j.created_at DESC, j.job_id DESC
      LIMIT $7`,
    [
      tenantId,
      filter.now ?? new Date(),
      filter.status ?? null,
      filter.includeArchived ?? false,
      after?.at ?? null,
      after?.id ?? null,
      limit + 1,
    ],
  );
  return toPage(rows, limit, toView, (row) => ({ at: row.created_at.toISOString(), id: row.job_id }));
}
