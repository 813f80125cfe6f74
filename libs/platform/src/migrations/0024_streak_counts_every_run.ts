/**
 * The endpoints read model's failure streak and last success count every finished run, as the
 * scheduler's streak does (it decides backoff and pauseAfterFailures): trigger and retry runs
 * were left out, so the API could show a streak below the one that paused an endpoint. The
 * streak index covers every finished run, and the rows are recounted once.
 */
export const id = '0024_streak_counts_every_run';

export const sql = `
  DROP INDEX IF EXISTS rm_runs_endpoint_streak_idx;
  CREATE INDEX rm_runs_endpoint_streak_idx ON rm_runs (endpoint_id, finished_at)
    WHERE finished_at IS NOT NULL;

  UPDATE rm_endpoints e
     SET last_success_at = (SELECT max(r.finished_at) FROM rm_runs r
                             WHERE r.endpoint_id = e.endpoint_id AND r.finished_at IS NOT NULL
                               AND r.status = 'success');
  UPDATE rm_endpoints e
     SET failure_streak = (SELECT count(*) FROM rm_runs r
                            WHERE r.endpoint_id = e.endpoint_id AND r.finished_at IS NOT NULL
                              AND r.status IN ('failed', 'timeout')
                              AND r.finished_at > COALESCE(GREATEST(e.last_success_at, e.failures_reset_at),
                                                           '-infinity'::timestamptz));
`;
