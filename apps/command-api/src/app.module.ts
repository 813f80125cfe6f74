import { Module, Type } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { CoreModule, CronicornConfig, PG_POOL } from '@cronicorn/platform';
import { waitForPosition } from '@cronicorn/read-models';
import type { Pool } from 'pg';
import { AnalysesModule } from './analyses/analyses.module';
import { ApiKeysModule } from './api-keys/api-keys.module';
import { AuthModule } from './auth/auth.module';
import { loadApiOptions } from './common/api-options';
import { CommonModule } from './common/common.module';
import { CronModule } from './cron/cron.module';
import { EndpointsModule } from './endpoints/endpoints.module';
import { EventsModule } from './events/events.module';
import { EventsStreamModule } from './events-stream/events-stream.module';
import { JobsModule } from './jobs/jobs.module';
import { RunsModule } from './runs/runs.module';
import { StatsModule } from './stats/stats.module';
import { SubscriptionsModule } from './subscriptions/subscriptions.module';
import { TenantsModule } from './tenants/tenants.module';
import { TriggersModule } from './triggers/triggers.module';

/** The bounded concerns served by the API, one Nest module each (STYLE §4). */
const featureModules = [
  TenantsModule,
  ApiKeysModule,
  JobsModule,
  EndpointsModule,
  RunsModule,
  TriggersModule,
  StatsModule,
  EventsModule,
  EventsStreamModule,
  SubscriptionsModule,
  CronModule,
  AnalysesModule,
];

export interface CommandApiOptions {
  /** Use this configuration instead of reading the environment (tests). */
  config?: CronicornConfig;
  /** Environment for the API's own settings (rate limit); defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Run an outbox relay in this process (default true). */
  relay?: boolean;
}

/**
 * Builds the root module. A factory rather than a fixed class so a test can start several
 * apps in one process, each with its own database and NATS namespace.
 */
export function commandApiModule(options: CommandApiOptions = {}): Type<unknown> {
  @Module({
    imports: [
      CoreModule.forRoot('command-api', { config: options.config, relay: options.relay }),
      CqrsModule.forRoot(),
      CommonModule.forRoot({
        options: loadApiOptions(options.env),
        catchUp: {
          inject: [PG_POOL],
          useFactory: (pool: Pool) => (position: string, timeoutMs: number) =>
            waitForPosition(pool, position, timeoutMs),
        },
      }),
      AuthModule,
      ...featureModules,
    ],
  })
  class CommandApiModule {}
  return CommandApiModule;
}
