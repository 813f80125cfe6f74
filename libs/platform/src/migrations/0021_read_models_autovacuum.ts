/**
 * The read models updated at every run: an endpoint's row, its job's and its hour of stats.
 * Autovacuum's default (20 % of the table dead) lets a table of one row per endpoint, rewritten at
 * every run, carry many dead versions per live row between passes, and every read of a row walks
 * them. Vacuumed after 1000 dead rows instead (ADR 0016).
 */
export const id = '0021_read_models_autovacuum';

export const sql = `
  ALTER TABLE rm_endpoints SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000);
  ALTER TABLE rm_jobs SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000);
  ALTER TABLE rm_run_stats_hourly SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000);
`;
