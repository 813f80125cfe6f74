/**
 * The due loop claims rows whose plan is due within its horizon and that no replica holds, or
 * whose holder's lease has lapsed. Under load nearly every row is due within the horizon and
 * leased, and one index over `next_run_at` made every claim (one after each fire group) walk
 * all of them to find the few just released. Free rows and leased rows now have an index each:
 * a claim reads the free ones by plan time and the lapsed ones by lease end.
 */
export const id = '0035_scheduler_claim_indexes';

export const sql = `
  CREATE INDEX scheduler_endpoints_free_idx ON scheduler_endpoints (next_run_at)
    WHERE next_run_at IS NOT NULL AND lease_owner IS NULL;
  CREATE INDEX scheduler_endpoints_leased_idx ON scheduler_endpoints (lease_until)
    WHERE lease_owner IS NOT NULL;
  DROP INDEX scheduler_endpoints_due_idx;
`;
