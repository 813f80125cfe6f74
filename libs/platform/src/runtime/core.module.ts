import {
  DynamicModule,
  Global,
  Inject,
  MiddlewareConsumer,
  Module,
  NestModule,
  OnApplicationShutdown,
  OnModuleInit,
  RequestMethod,
} from '@nestjs/common';
import { PostgresEventStore } from '@cronicorn/event-store';
import { LoggerModule } from 'nestjs-pino';
import type { Registry } from 'prom-client';
import { AppName, CronicornConfig, loadConfig } from '../config';
import { DatabaseRuntime } from './database.runtime';
import { HealthController } from './health.controller';
import { loggerParams } from './logging';
import {
  createMetricsRegistry,
  eventsAppendedCounter,
  httpMetricsMiddleware,
  jetStreamConsumerLagGauges,
} from './metrics';
import { NatsRuntime } from './nats.runtime';
import { RelaySupervisor } from './relay.supervisor';
import { APP_NAME, CONFIG, EVENT_STORE, METRICS_REGISTRY, NATS, PG_POOL } from './tokens';

export interface CoreModuleOptions {
  /** Use this configuration instead of reading the environment (tests). */
  config?: CronicornConfig;
  /** Run an outbox relay in this process (default true). */
  relay?: boolean;
}

/**
 * What every app shares: config, JSON logging, Postgres (database created and migrated in
 * the background, retried while unreachable), NATS with provisioned streams (likewise), the
 * event store, a leader-elected outbox relay, and `/healthz`, `/readyz`, `/metrics`.
 * On shutdown (after every other module's destroy hooks) it stops the relay, drains NATS
 * and closes the pool.
 */
@Global()
@Module({})
export class CoreModule implements OnModuleInit, OnApplicationShutdown, NestModule {
  constructor(
    private readonly database: DatabaseRuntime,
    private readonly nats: NatsRuntime,
    private readonly relay: RelaySupervisor,
    @Inject(METRICS_REGISTRY) private readonly registry: Registry,
  ) {}

  static forRoot(app: AppName, options: CoreModuleOptions = {}): DynamicModule {
    const configFor = () => options.config ?? loadConfig(app);
    const providers = [
      { provide: APP_NAME, useValue: app },
      { provide: CONFIG, useFactory: configFor },
      { provide: METRICS_REGISTRY, useFactory: () => createMetricsRegistry(app) },
      {
        provide: DatabaseRuntime,
        inject: [CONFIG],
        useFactory: (config: CronicornConfig) =>
          new DatabaseRuntime(config.databaseUrl, `cronicorn-${app}`, config.databasePoolSize),
      },
      { provide: PG_POOL, inject: [DatabaseRuntime], useFactory: (db: DatabaseRuntime) => db.pool },
      {
        provide: NatsRuntime,
        inject: [CONFIG, METRICS_REGISTRY],
        useFactory: (config: CronicornConfig, registry: Registry) => {
          const nats = new NatsRuntime(config.natsUrl, `cronicorn-${app}`, config.nats);
          jetStreamConsumerLagGauges(registry, () => nats.handle);
          return nats;
        },
      },
      { provide: NATS, useExisting: NatsRuntime },
      {
        provide: PostgresEventStore,
        inject: [PG_POOL, METRICS_REGISTRY],
        useFactory: (pool: DatabaseRuntime['pool'], registry: Registry) =>
          new PostgresEventStore(pool, undefined, eventsAppendedCounter(registry)),
      },
      { provide: EVENT_STORE, useExisting: PostgresEventStore },
      {
        provide: RelaySupervisor,
        inject: [DatabaseRuntime, NatsRuntime, PostgresEventStore, METRICS_REGISTRY],
        useFactory: (db: DatabaseRuntime, nats: NatsRuntime, store: PostgresEventStore, registry: Registry) =>
          new RelaySupervisor(db, nats, store, registry, options.relay ?? true),
      },
    ];
    return {
      module: CoreModule,
      global: true,
      imports: [LoggerModule.forRootAsync({ useFactory: () => loggerParams(app, configFor().logLevel) })],
      controllers: [HealthController],
      providers,
      exports: [
        APP_NAME,
        CONFIG,
        METRICS_REGISTRY,
        DatabaseRuntime,
        PG_POOL,
        NatsRuntime,
        NATS,
        PostgresEventStore,
        EVENT_STORE,
        RelaySupervisor,
      ],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer
      .apply(httpMetricsMiddleware(this.registry))
      .forRoutes({ path: '{*splat}', method: RequestMethod.ALL });
  }

  onModuleInit(): void {
    this.database.start();
    this.nats.start();
    this.relay.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.relay.stop();
    await this.nats.close();
    await this.database.close();
  }
}
