/**
 * An endpoint's latest result (the newest finished run and the failure streak) moves out of
 * `scheduler_endpoints` into a row of its own, so that folding a run's `RunFinished` that
 * cannot move the plan (most of them) writes that row without locking the endpoint's, which
 * the due loop's fires lock. `version` guards those writes: such a fold writes only over the
 * version it read. No foreign key: its check would take a lock on the endpoint's row.
 * Stop the scheduler before upgrading to it (docs/operations.md).
 */
export const id = '0032_scheduler_endpoint_results';

export const sql = `
  -- No write may land between the copy and the drop (an older scheduler still running).
  LOCK TABLE scheduler_endpoints IN SHARE ROW EXCLUSIVE MODE;
  CREATE TABLE scheduler_endpoint_results (
    endpoint_id           text        PRIMARY KEY,
    last_finished         jsonb,
    consecutive_failures  integer     NOT NULL DEFAULT 0,
    streak_since          timestamptz,
    last_failure_at       timestamptz,
    version               integer     NOT NULL DEFAULT 0,
    updated_at            timestamptz NOT NULL DEFAULT now()
  );
  INSERT INTO scheduler_endpoint_results
         (endpoint_id, last_finished, consecutive_failures, streak_since, last_failure_at, version)
  SELECT endpoint_id, last_finished, consecutive_failures, streak_since, last_failure_at, 1
    FROM scheduler_endpoints
   WHERE last_finished IS NOT NULL OR consecutive_failures <> 0 OR streak_since IS NOT NULL;
  ALTER TABLE scheduler_endpoints
    DROP COLUMN last_finished,
    DROP COLUMN consecutive_failures,
    DROP COLUMN streak_since,
    DROP COLUMN last_failure_at;
`;
