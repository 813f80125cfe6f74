/**
 * The dispatch outbox looks for two kinds of runs: handed out but never published, and
 * published a while ago but not started. One index over every dispatched run made both walk
 * the runs published in the last seconds (thousands under load) at every pass; each now has
 * its own. The missed-run check keeps `scheduler_runs_dispatched_idx`.
 */
export const id = '0033_scheduler_outbox_indexes';

export const sql = `
  CREATE INDEX scheduler_runs_unpublished_idx ON scheduler_runs (dispatched_at)
    WHERE state = 'dispatched' AND published_at IS NULL;
  CREATE INDEX scheduler_runs_published_idx ON scheduler_runs (published_at)
    WHERE state = 'dispatched' AND published_at IS NOT NULL;
`;
