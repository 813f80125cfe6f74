import { Pool } from 'pg';
import * as m0001 from './0001_event_store';
import * as m0002 from './0002_messaging';
import * as m0003 from './0003_events_tenant_type_idx';
import * as m0004 from './0004_dead_letters_by_payload';
import * as m0010 from './0010_command_api';
import * as m0020 from './0020_read_models';
import * as m0021 from './0021_read_models_autovacuum';
import * as m0022 from './0022_rm_runs_template_unresolved';
import * as m0023 from './0023_rm_runs_first_started_at';
import * as m0024 from './0024_streak_counts_every_run';
import * as m0025 from './0025_projector_tail';
import * as m0030 from './0030_scheduler';
import * as m0031 from './0031_scheduler_folds';
import * as m0032 from './0032_scheduler_endpoint_results';
import * as m0033 from './0033_scheduler_outbox_indexes';
import * as m0034 from './0034_scheduler_autovacuum';
import * as m0035 from './0035_scheduler_claim_indexes';
import * as m0040 from './0040_ai_planner';
import * as m0041 from './0041_ai_planner_autovacuum';
import * as m0042 from './0042_ai_planner_tail';
import * as m0050 from './0050_webhooks';
import * as m0051 from './0051_webhook_fairness';
import * as m0052 from './0052_webhook_redelivery';
import * as m0053 from './0053_webhooks_tail_the_log';
import { applyMigrations, Migration, MigrationLog } from './runner';

export { applyMigrations } from './runner';
export type { Migration, MigrationLog } from './runner';

/**
 * Every migration, applied in id order. Number ranges keep parallel work from clashing:
 * 0001-0009 event store and messaging, 0010-0019 command-api, 0020-0029 projector,
 * 0030-0039 scheduler, 0040-0049 ai-planner, 0050-0059 webhooks.
 */
export const ALL_MIGRATIONS: readonly Migration[] = [
  m0001,
  m0002,
  m0003,
  m0004,
  m0010,
  m0020,
  m0021,
  m0022,
  m0023,
  m0024,
  m0025,
  m0030,
  m0031,
  m0032,
  m0033,
  m0034,
  m0035,
  m0040,
  m0041,
  m0042,
  m0050,
  m0051,
  m0052,
  m0053,
].sort((a, b) => (a.id < b.id ? -1 : 1));

/** Brings the database up to date; safe to call from every app at start-up. */
export function runMigrations(
  pool: Pool,
  migrations: readonly Migration[] = ALL_MIGRATIONS,
  log?: MigrationLog,
): Promise<string[]> {
  return applyMigrations(pool, migrations, log);
}
