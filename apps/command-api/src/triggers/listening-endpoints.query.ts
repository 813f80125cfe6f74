import type { Queryable } from '@cronicorn/read-models';

/** An endpoint whose configuration lists a trigger name, as the endpoints read model has it. */
export interface ListeningEndpoint {
  endpointId: string;
  jobId: string;
}

/**
 * The tenant's endpoints, archived ones left out, that listen to trigger `name`, by id. The
 * read model only proposes candidates: the handler decides each on the endpoint's own stream.
 */
export async function listeningEndpoints(
  db: Queryable,
  tenantId: string,
  name: string,
  limit: number,
): Promise<ListeningEndpoint[]> {
  const { rows } = await db.query<{ endpoint_id: string; job_id: string }>(
    `SELECT endpoint_id, job_id FROM rm_endpoints
      WHERE tenant_id = $1 AND created_at IS NOT NULL AND status <> 'archived'
        AND config -> 'triggers' @> jsonb_build_array($2::text)
      ORDER BY endpoint_id
      LIMIT $3`,
    [tenantId, name, limit],
  );
  return rows.map((row) => ({ endpointId: row.endpoint_id, jobId: row.job_id }));
}
