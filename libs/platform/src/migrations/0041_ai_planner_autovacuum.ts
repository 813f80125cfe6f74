/**
 * The ai-planner's row per endpoint, updated at every finished run. Autovacuum's default (20 % of
 * the table dead) lets a table of one row per endpoint, rewritten at every run, carry many dead
 * versions per live row between passes, and every read of a row walks them. Vacuumed after 1000
 * dead rows instead (ADR 0016).
 */
export const id = '0041_ai_planner_autovacuum';

export const sql = `
  ALTER TABLE ai_planner_endpoints SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000);
`;
