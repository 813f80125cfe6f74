/**
 * The scheduler's rows per endpoint (its plan, its last result) and per job. Autovacuum's default
 * (20 % of the table dead) lets a table of one row per endpoint, rewritten at every run, carry
 * many dead versions per live row between passes, and every read of a row walks them. Vacuumed
 * after 1000 dead rows instead (ADR 0016).
 */
export const id = '0034_scheduler_autovacuum';

export const sql = `
  ALTER TABLE scheduler_endpoints SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000);
  ALTER TABLE scheduler_endpoint_results SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000);
  ALTER TABLE scheduler_jobs SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000);
`;
