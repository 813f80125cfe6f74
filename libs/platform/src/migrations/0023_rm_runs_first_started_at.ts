/**
 * `GET /v1/endpoints/:id/runs` pages by a key that never changes: when the run first started.
 * Paging by `started_at`, which a redelivery moves (and a finish by the first delivery moves
 * back), skipped a run or showed it twice across pages. Rows projected before this column
 * take their current start; `npm run projector:rebuild` gives them their first.
 */
export const id = '0023_rm_runs_first_started_at';

export const sql = `
  ALTER TABLE rm_runs ADD COLUMN first_started_at timestamptz;
  UPDATE rm_runs SET first_started_at = started_at;
  ALTER TABLE rm_runs ALTER COLUMN first_started_at SET NOT NULL;
  CREATE INDEX rm_runs_endpoint_first_started_idx ON rm_runs (endpoint_id, first_started_at DESC, run_id DESC);
  DROP INDEX rm_runs_endpoint_status_started_idx;
  CREATE INDEX rm_runs_endpoint_status_first_started_idx
    ON rm_runs (endpoint_id, status, first_started_at DESC, run_id DESC);
`;
