/**
 * The scheduler folds endpoint and job events through their own durable consumers
 * (`scheduler-endpoints`, `scheduler-jobs`; run events stay with `scheduler`). Their
 * bookkeeping moves with them: the version rows of endpoint and job streams, and the sweep
 * checkpoint, which each new consumer starts from (every event before it was handled by
 * `scheduler`). A database that never had a `scheduler` consumer is left as it is.
 */
export const id = '0031_scheduler_folds';

export const sql = `
  UPDATE consumer_stream_versions
     SET consumer = CASE WHEN stream_id LIKE 'endpoint-%' THEN 'scheduler-endpoints' ELSE 'scheduler-jobs' END
   WHERE consumer = 'scheduler' AND (stream_id LIKE 'endpoint-%' OR stream_id LIKE 'job-%');
  INSERT INTO consumer_checkpoints (consumer, transaction_id, position)
  SELECT fold.consumer, c.transaction_id, c.position
    FROM consumer_checkpoints c
   CROSS JOIN (VALUES ('scheduler-endpoints'), ('scheduler-jobs')) AS fold (consumer)
   WHERE c.consumer = 'scheduler'
  ON CONFLICT (consumer) DO NOTHING;
`;
